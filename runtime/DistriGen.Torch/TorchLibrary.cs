using System.Runtime.InteropServices;
using TorchSharp;

namespace DistriGen.Torch;

/// <summary>LibTorch cannot be used on this system; the message says why and what to do, in one line.</summary>
public sealed class TorchUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Loads TorchSharp's native library and LibTorch once per process, or fails with one line that says
/// why. TorchSharp 0.107's libLibTorchSharp.so is built with GCC 13 and requires the symbol version
/// GLIBCXX_3.4.32 for a single marker symbol (std::ios_base_library_init) that no relocation uses; older
/// libstdc++ (Debian 12, Ubuntu 22.04: 3.4.30) refuse to load it. With
/// <c>DISTRIGEN_TORCH_GLIBCXX_FIX=1</c> set, a copy of the library with that one requirement marked weak
/// is written to the temporary folder and loaded instead; nothing is changed without it.
/// </summary>
public static class TorchLibrary
{
    public const string GlibcxxFixVariable = "DISTRIGEN_TORCH_GLIBCXX_FIX";
    private const string MissingVersion = "GLIBCXX_3.4.32";
    private const string Bridge = "libLibTorchSharp.so";
    private static readonly Lock Gate = new();
    private static string? _loadedFrom;
    private static TorchUnavailableException? _failure;

    /// <summary>Where the native bridge was loaded from (the patched copy's path when the fix was used).</summary>
    public static string LoadedFrom => _loadedFrom ?? throw new InvalidOperationException("LibTorch is not loaded yet.");

    /// <summary>
    /// Makes sure LibTorch is usable; throws <see cref="TorchUnavailableException"/> (the same one every time) when
    /// not.
    /// </summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loadedFrom is not null) return;
            if (_failure is not null) throw _failure;
            try
            {
                _loadedFrom = OperatingSystem.IsLinux() ? LoadOnLinux() : "TorchSharp's own loader";
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (TorchUnavailableException e)
            {
                _failure = e;
                throw;
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException)
            {
                _failure = new TorchUnavailableException($"LibTorch could not be initialised: {FirstLine(e.Message)}", e);
                throw _failure;
            }
        }
    }

    /// <summary>True when LibTorch loads; never throws.</summary>
    public static bool TryEnsureLoaded(out string? why)
    {
        try
        {
            EnsureLoaded();
            why = null;
            return true;
        }
        catch (TorchUnavailableException e)
        {
            why = e.Message;
            return false;
        }
    }

    private static string LoadOnLinux()
    {
        var baseDir = AppContext.BaseDirectory;
        var nativeDir = new[] { Path.Combine(baseDir, "runtimes", "linux-x64", "native"), baseDir }
            .FirstOrDefault(d => File.Exists(Path.Combine(d, Bridge)))
            ?? throw new TorchUnavailableException(
                $"TorchSharp's native library ({Bridge}) is not under {baseDir}: reference the TorchSharp package in the application.");
        if (!File.Exists(Path.Combine(nativeDir, "libtorch_cpu.so")))
            throw new TorchUnavailableException(
                $"LibTorch's native libraries (libtorch_cpu.so) are not in {nativeDir}: reference TorchSharp-cpu or libtorch-cpu-linux-x64 " +
                "(CPU), or TorchSharp-cuda-linux (CUDA), in the application.");
        var original = Path.Combine(nativeDir, Bridge);
        try
        {
            NativeLibrary.Load(original);
            return original;
        }
        catch (DllNotFoundException e) when (e.Message.Contains(MissingVersion, StringComparison.Ordinal))
        {
            if (Environment.GetEnvironmentVariable(GlibcxxFixVariable) != "1")
                throw new TorchUnavailableException(
                    $"{original} needs {MissingVersion} (GCC 13's libstdc++) and this system's libstdc++ is older: install libstdc++6 from " +
                    $"GCC 13 or later, or set {GlibcxxFixVariable}=1 to load a copy with that one requirement marked weak (see the README).", e);
            return LoadPatchedCopy(nativeDir, original);
        }
        catch (DllNotFoundException e)
        {
            throw new TorchUnavailableException($"{original} does not load: {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>
    /// Writes (once per library version) a copy with the GLIBCXX_3.4.32 requirement weak and loads it by
    /// path. Its SONAME is TorchSharp's library name, so TorchSharp's own load and every P/Invoke bind to
    /// it. LibTorch is loaded from its own folder first: the copy's $ORIGIN does not point there.
    /// </summary>
    private static string LoadPatchedCopy(string nativeDir, string original)
    {
        foreach (var dependency in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            var path = Path.Combine(nativeDir, dependency);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }
        var info = new FileInfo(original);
        var folder = Path.Combine(Path.GetTempPath(), "distrigen-torch", $"{info.Length}-{info.LastWriteTimeUtc.Ticks}");
        var patched = Path.Combine(folder, Bridge);
        if (!File.Exists(patched))
        {
            var bytes = File.ReadAllBytes(original);
            if (ElfVersionNeeds.MarkWeak(bytes, MissingVersion) == 0)
                throw new TorchUnavailableException($"{original} does not require {MissingVersion} and still does not load.");
            Directory.CreateDirectory(folder);
            // Written under a unique name and moved into place, so processes starting together do not clash.
            var temporary = $"{patched}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, patched, overwrite: true);
        }
        try
        {
            NativeLibrary.Load(patched);
        }
        catch (DllNotFoundException e)
        {
            throw new TorchUnavailableException($"{patched} (with {MissingVersion} marked weak) does not load: {FirstLine(e.Message)}", e);
        }
        return patched;
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
