/** How each language is built and run inside the sandbox: source file, compile argv, run argv. */
import { spawnSync } from 'node:child_process';
import { HaloError } from '../../util/errors.js';
import { toolchainVersion, type ToolchainName } from '../toolchains.js';

export type LanguageName = 'c' | 'cpp' | 'clang' | 'mingw' | 'rust' | 'go' | 'python' | 'csharp' | 'powershell';

export interface BuildPlan {
  /** Language used for code extraction. */
  extractAs: string;
  source: string;
  /** Work-dir files written before compiling (besides the source). */
  extraFiles?: Record<string, string>;
  compile: string[] | null;
  /** argv to run the program, or null when it can only be cross-compiled. */
  run: string[] | null;
  env?: Record<string, string>;
  readOnlyPaths?: string[];
  /** The compiler reports warnings, so 0.3 (compiles with warnings) is reachable. */
  warnings: boolean;
}

/**
 * Warnings that point at likely bugs: -Wall -Wextra minus the stylistic ones nearly every
 * competitive-programming solution trips (signed/unsigned loop compares, unused names, member
 * init order); with those on, 18 % of the Codeforces references would score "warnings".
 */
const WARN = ['-Wall', '-Wextra', '-Wno-sign-compare', '-Wno-unused-variable', '-Wno-unused-but-set-variable', '-Wno-unused-parameter'];
const WARN_CXX = [...WARN, '-Wno-reorder'];

function looksLikeCpp(code: string): boolean {
  return /#include\s*<(?:iostream|bits\/stdc\+\+\.h|vector|string|map|set|algorithm|queue|cstdio|cstring)>|\busing\s+namespace\b|\bstd::|\btemplate\s*<|\bclass\s+\w+\s*[{:]/.test(code);
}

let rustSysroot: string | null | undefined;
function findRustSysroot(): string | null {
  if (rustSysroot !== undefined) return rustSysroot;
  const probe = spawnSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8', timeout: 15_000 });
  rustSysroot = probe.status === 0 ? probe.stdout.trim() : null;
  return rustSysroot;
}

function requireTool(tool: ToolchainName, language: string, fix: string): void {
  if (toolchainVersion(tool) === null) {
    throw new HaloError('TOOLCHAIN_MISSING', `the ${language} verifier needs ${tool}, which is not installed here`, { fix });
  }
}

export function checkToolchain(language: LanguageName): void {
  switch (language) {
    case 'c': return requireTool('gcc', language, 'sudo apt-get install gcc');
    case 'cpp': return requireTool('g++', language, 'sudo apt-get install g++');
    case 'clang': return requireTool('clang', language, 'sudo apt-get install clang');
    case 'mingw': return requireTool('x86_64-w64-mingw32-g++', language, 'sudo apt-get install g++-mingw-w64-x86-64');
    case 'rust':
      if (!findRustSysroot()) throw new HaloError('TOOLCHAIN_MISSING', 'the rust verifier needs rustc, which is not installed here', { fix: 'install Rust with rustup (https://rustup.rs)' });
      return;
    case 'go': return requireTool('go', language, 'sudo apt-get install golang-go');
    case 'python': return requireTool('python3', language, 'sudo apt-get install python3');
    case 'csharp': return requireTool('dotnet', language, 'install the .NET SDK (https://dotnet.microsoft.com/download)');
    case 'powershell': return requireTool('pwsh', language, 'install PowerShell (https://learn.microsoft.com/powershell/scripting/install/installing-powershell-on-linux)');
  }
}

export function buildPlan(language: LanguageName, code: string): BuildPlan {
  switch (language) {
    case 'c':
      return { extractAs: 'c', source: 'main.c', compile: ['gcc', '-std=gnu17', '-O1', ...WARN, '-o', 'prog', 'main.c', '-lm'], run: ['./prog'], warnings: true };
    case 'cpp':
      return { extractAs: 'cpp', source: 'main.cpp', compile: ['g++', '-std=gnu++17', '-O1', ...WARN_CXX, '-o', 'prog', 'main.cpp'], run: ['./prog'], warnings: true };
    case 'clang':
      return looksLikeCpp(code)
        ? { extractAs: 'cpp', source: 'main.cpp', compile: ['clang++', '-std=c++17', '-O1', ...WARN_CXX, '-o', 'prog', 'main.cpp'], run: ['./prog'], warnings: true }
        : { extractAs: 'c', source: 'main.c', compile: ['clang', '-std=gnu17', '-O1', ...WARN, '-o', 'prog', 'main.c', '-lm'], run: ['./prog'], warnings: true };
    case 'mingw':
      return { extractAs: 'cpp', source: 'main.cpp', compile: ['x86_64-w64-mingw32-g++', '-std=gnu++17', '-O1', ...WARN_CXX, '-static', '-o', 'prog.exe', 'main.cpp'], run: null, warnings: true };
    case 'rust': {
      const sysroot = findRustSysroot() ?? '';
      return {
        extractAs: 'rust', source: 'main.rs',
        compile: [`${sysroot}/bin/rustc`, '--edition', '2021', '-C', 'opt-level=1', '-o', 'prog', 'main.rs'],
        run: ['./prog'], warnings: true,
        readOnlyPaths: sysroot.startsWith('/usr/') ? [] : [sysroot],
      };
    }
    case 'go':
      // Go has no compiler warnings (unused names are errors), so its ladder skips 0.3.
      return { extractAs: 'go', source: 'main.go', compile: ['go', 'build', '-o', 'prog', 'main.go'], run: ['./prog'], warnings: false,
        env: { GOCACHE: '/tmp/gocache', GOPATH: '/tmp/gopath', GO111MODULE: 'off', CGO_ENABLED: '0', GOFLAGS: '' } };
    case 'python':
      return { extractAs: 'python', source: 'main.py', compile: ['python3', '-I', '-m', 'py_compile', 'main.py'], run: ['python3', '-I', 'main.py'], warnings: false };
    case 'csharp':
      return { extractAs: 'csharp', source: 'Program.cs', extraFiles: { 'app.csproj': '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net8.0</TargetFramework><Nullable>enable</Nullable></PropertyGroup></Project>\n' },
        compile: ['dotnet', 'build', '--nologo', '-o', 'out'], run: ['dotnet', 'out/app.dll'], warnings: true, env: { DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_CLI_HOME: '/tmp' } };
    case 'powershell':
      return { extractAs: 'powershell', source: 'main.ps1', compile: null, run: ['pwsh', '-NoProfile', '-NonInteractive', '-File', 'main.ps1'], warnings: false };
  }
}
