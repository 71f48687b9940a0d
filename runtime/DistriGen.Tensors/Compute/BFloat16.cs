using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistriGen.Tensors.Compute;

/// <summary>
/// float32 → bfloat16 (the upper 16 bits, rounded to nearest, ties to even), as oneDNN and LibTorch
/// round.
/// </summary>
public static class BFloat16
{
    public static void Convert(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref uint from = ref Unsafe(source);
            ref ushort to = ref MemoryMarshal.GetReference(destination);
            var bias = Vector512.Create(0x7FFFu);
            for (; i + 32 <= source.Length; i += 32)
            {
                var lo = Vector512.LoadUnsafe(ref from, (nuint)i);
                var hi = Vector512.LoadUnsafe(ref from, (nuint)(i + 16));
                Vector512.Narrow(Round(lo, bias), Round(hi, bias)).StoreUnsafe(ref to, (nuint)i);
            }
        }
        for (; i < source.Length; i++) destination[i] = Round(source[i]);
    }

    public static ushort Round(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }

    private static Vector512<uint> Round(Vector512<uint> bits, Vector512<uint> bias) =>
        Vector512.ShiftRightLogical(bits + bias + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16);

    private static ref uint Unsafe(ReadOnlySpan<float> values) =>
        ref MemoryMarshal.GetReference(MemoryMarshal.Cast<float, uint>(values));
}
