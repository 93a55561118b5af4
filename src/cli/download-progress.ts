/**
 * The CLI's view of hub downloads: on a TTY one bar per file (MB done / total, rate, ETA, "resumed
 * at N MB" after an interrupted download); otherwise a line when a file starts, every 5 s, and when
 * it ends. Fed by the DownloadProgress events of data/hub.ts.
 */
import cliProgress from 'cli-progress';
import type { DownloadProgress } from '../data/hub.js';

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

export function downloadProgressView(stream: NodeJS.WriteStream = process.stderr): { onDownload: DownloadProgress; close(): void } {
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  let lastLine = 0;
  const close = (): void => {
    bar?.stop();
    bar = undefined;
  };
  const onDownload: DownloadProgress = (event) => {
    const label = `${event.file} (${event.index + 1}/${event.total})`;
    if (event.bytes === undefined) {
      close();
      current = event.file;
      stream.write(`downloading ${label}\n`);
      return;
    }
    const total = event.totalBytes ?? event.bytes;
    const resumed = event.resumedFrom ? `, resumed at ${mb(event.resumedFrom)} MB` : '';
    if (stream.isTTY) {
      if (bar === undefined || current !== event.file) {
        close();
        current = event.file;
        bar = new cliProgress.SingleBar(
          { stream, format: `{bar} {percentage}% {done}/{all} MB | ETA {eta_formatted}${resumed}`, hideCursor: true, clearOnComplete: false, barsize: 30 },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(total, 1), event.bytes, { done: mb(event.bytes), all: mb(total) });
      }
      bar.update(event.bytes, { done: mb(event.bytes), all: mb(total) });
      if (event.bytes >= total) close();
    } else if (Date.now() - lastLine >= 5000 || event.bytes >= total) {
      lastLine = Date.now();
      stream.write(`  ${label}: ${mb(event.bytes)}/${mb(total)} MB${resumed}\n`);
    }
  };
  return { onDownload, close };
}
