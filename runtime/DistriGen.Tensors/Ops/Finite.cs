using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    /// <summary>The index of the first NaN or infinite value, or −1 when every value is finite (meta tensors: −1).</summary>
    public static long FirstNonFinite(Tensor x)
    {
        if (x.IsMeta) return -1;
        if (KernelsOf("first_non_finite", x) is { } device) return device.FirstNonFinite(x);
        var span = x.Span;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float start = ref MemoryMarshal.GetReference(span);
            // x − x is 0 for finite x and NaN for NaN and ±∞.
            for (; i + 16 <= span.Length; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref start, (nuint)i);
                if (!Vector512.EqualsAll(v - v, Vector512<float>.Zero)) break;
            }
        }
        for (; i < span.Length; i++)
            if (!float.IsFinite(span[i])) return i;
        return -1;
    }

    /// <summary>Whether every value of <paramref name="x"/> is finite.</summary>
    public static bool AllFinite(Tensor x) => FirstNonFinite(x) < 0;
}
