namespace DistriGen.Tensors.IO;

/// <summary>A safetensors file that is not valid: the message names the file and, where it applies, the tensor.</summary>
public sealed class SafeTensorsFormatException(string path, string? tensor, string problem)
    : Exception(tensor is null ? $"{path}: {problem}" : $"{path}: tensor '{tensor}': {problem}")
{
    public string Path { get; } = path;
    public string? Tensor { get; } = tensor;
}
