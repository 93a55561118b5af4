/** Why the ONNX tests cannot run here, or undefined when onnxruntime-node loads. */
export async function onnxRuntimeMissing(): Promise<string | undefined> {
  try {
    await import('onnxruntime-node');
    return undefined;
  } catch (error) {
    return `onnxruntime-node is not installed (${(error as Error).message})`;
  }
}
