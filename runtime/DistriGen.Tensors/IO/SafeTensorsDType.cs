namespace DistriGen.Tensors.IO;

/// <summary>The element types a safetensors file may hold that we read (all widened to float32).</summary>
public enum SafeTensorsDType
{
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
}

internal static class SafeTensorsDTypes
{
    /// <summary>Exact names only: no numbers, no lists, no other casing.</summary>
    public static bool TryParse(string text, out SafeTensorsDType dtype)
    {
        foreach (var candidate in Enum.GetValues<SafeTensorsDType>())
            if (candidate.ToString() == text)
            {
                dtype = candidate;
                return true;
            }
        dtype = default;
        return false;
    }

    public static int Size(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 => 4,
        _ => 8,
    };

    /// <summary>Widens <paramref name="source"/> (raw little-endian elements) into float32.</summary>
    public static unsafe void Widen(SafeTensorsDType dtype, byte* source, Span<float> destination)
    {
        int n = destination.Length;
        switch (dtype)
        {
            case SafeTensorsDType.F32:
                new ReadOnlySpan<float>(source, n).CopyTo(destination);
                break;
            case SafeTensorsDType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(source, n), destination);
                break;
            case SafeTensorsDType.BF16:
                var bf = new ReadOnlySpan<ushort>(source, n);
                for (int i = 0; i < n; i++) destination[i] = BitConverter.Int32BitsToSingle(bf[i] << 16);
                break;
            case SafeTensorsDType.F64:
                var d = new ReadOnlySpan<double>(source, n);
                for (int i = 0; i < n; i++) destination[i] = (float)d[i];
                break;
            case SafeTensorsDType.I64:
                var l = new ReadOnlySpan<long>(source, n);
                for (int i = 0; i < n; i++) destination[i] = l[i];
                break;
            case SafeTensorsDType.I32:
                var s = new ReadOnlySpan<int>(source, n);
                for (int i = 0; i < n; i++) destination[i] = s[i];
                break;
        }
    }
}
