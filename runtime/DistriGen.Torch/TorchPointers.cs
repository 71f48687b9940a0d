using System.Runtime.InteropServices;
using TorchSharp;

namespace DistriGen.Torch;

/// <summary>Where a LibTorch tensor's values are (TorchSharp 0.107 has no public data_ptr).</summary>
internal static class TorchPointers
{
    /// <summary>The address of the tensor's first element: its storage plus its offset.</summary>
    public static IntPtr Data(torch.Tensor t) =>
        NativeMethods.THSStorage_data_ptr(t.Handle) + (nint)(NativeMethods.THSTensor_storage_offset(t.Handle) * t.ElementSize);

    /// <summary>Whether two tensors view the same storage.</summary>
    public static bool SameStorage(torch.Tensor a, torch.Tensor b) =>
        NativeMethods.THSStorage_data_ptr(a.Handle) == NativeMethods.THSStorage_data_ptr(b.Handle);

    private static class NativeMethods
    {
        [DllImport("LibTorchSharp")]
        internal static extern IntPtr THSStorage_data_ptr(IntPtr tensor);

        [DllImport("LibTorchSharp")]
        internal static extern long THSTensor_storage_offset(IntPtr tensor);
    }
}
