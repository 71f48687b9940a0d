using System.Text;
using DistriGen.Tensors.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// Tests that change or measure process-wide state (the compute backend, TensorMemory's counters) or
/// compare results bit for bit (which a backend switched by another test would spoil) run in this
/// collection: xunit runs it on its own, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalStateCollection
{
    public const string Name = "Global compute state";
}

/// <summary>Seeded inputs and comparisons against double-precision references.</summary>
internal static class Check
{
    /// <summary>Standard normal values, the same on every run.</summary>
    public static Tensor Normal(long seed, params int[] shape) => SeededNormal.Sample(seed, shape);

    public static float[] NormalArray(long seed, int length)
    {
        var a = new float[length];
        new SeededNormal(seed).Fill(a);
        return a;
    }

    /// <summary>
    /// |actual − expected| ≤ rtol·|expected| + atol at every element, where atol defaults to rtol times the
    /// RMS of the expected values: float sums carry an error relative to the size of their terms, so an
    /// element that happens to be near zero is judged against the typical size of the output.
    /// </summary>
    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rtol = 1e-5, double? atol = null, string what = "")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}.");
        double sq = 0;
        foreach (var e in expected) sq += e * e;
        double tol0 = atol ?? rtol * Math.Max(Math.Sqrt(sq / Math.Max(1, expected.Length)), 1e-30);
        int bad = 0, first = -1;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            double tol = rtol * Math.Abs(expected[i]) + tol0;
            if (!(err <= tol))
            {
                if (first < 0) first = i;
                bad++;
                worst = Math.Max(worst, double.IsNaN(err) ? double.PositiveInfinity : err / tol);
            }
        }
        Assert.True(bad == 0, $"{what}: {bad} of {expected.Length} values off; first at {first}: expected {(first >= 0 ? expected[first] : 0):R}, got {(first >= 0 ? actual[first] : 0):R}; worst error {worst:0.0}× the tolerance.");
    }

    public static void Close(double[] expected, Tensor actual, double rtol = 1e-5, double? atol = null, string what = "") =>
        Close(expected.AsSpan(), actual.Span, rtol, atol, what);

    /// <summary>Bit-for-bit equality (so −0 ≠ +0 and NaNs compare by payload).</summary>
    public static void Bitwise(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what = "")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}.");
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} differs: {expected[i]:R} vs {actual[i]:R}.");
    }

    public static void Shape(Tensor t, params int[] shape) =>
        Assert.True(t.Shape.AsSpan().SequenceEqual(shape), $"expected shape {Tensor.Format(shape)}, got {Tensor.Format(t.Shape)}.");
}

/// <summary>A fresh directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "distrigen-tensors-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still mapped by a failed test must not hide that test's own failure.
        }
    }
}

/// <summary>Runs code on a named compute backend and puts the previous one back.</summary>
internal static class Backends
{
    public static readonly TheoryData<string> Names = new() { "managed", "openblas", "onednn", "onednn-winograd" };

    /// <summary>The backend called <paramref name="name"/>, or null when this machine does not have its library.</summary>
    public static Compute.IComputeBackend? Get(string name) => name switch
    {
        "managed" => Compute.ManagedBackend.Instance,
        "openblas" => Compute.OpenBlasBackend.TryLoad(out _),
        "onednn" => Compute.DnnlBackend.TryLoad(out _),
        "onednn-winograd" => Compute.DnnlBackend.TryLoad(out _, winograd: true),
        "onednn-bf16" => Compute.DnnlBackend.TryLoad(out _, bfloat16: true),
        _ => throw new ArgumentException(name),
    };

    /// <summary>
    /// Runs <paramref name="body"/> with <see cref="Compute.ComputeBackends.Current"/> set to the named
    /// backend; does nothing when it is not installed (the native libraries are optional).
    /// </summary>
    public static void On(string name, Action body)
    {
        var backend = Get(name);
        if (backend is null) return;
        var previous = Compute.ComputeBackends.Current;
        try
        {
            Compute.ComputeBackends.Current = backend;
            body();
        }
        finally
        {
            Compute.ComputeBackends.Current = previous;
        }
    }
}

/// <summary>Writes safetensors files byte by byte, so tests control every field, valid or not.</summary>
internal static class SafeTensorsFiles
{
    /// <summary>8-byte little-endian header length (the real one unless overridden), the header, then the data.</summary>
    public static void WriteRaw(string path, string header, byte[] data, ulong? headerLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        using var s = File.Create(path);
        s.Write(BitConverter.GetBytes(headerLength ?? (ulong)h.Length));
        s.Write(h);
        s.Write(data);
    }
}
