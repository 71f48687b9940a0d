using System.CommandLine;
using DistriGen.Tensors.Devices;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>
/// The devices a benchmark measures side by side: --device host,torch-cpu with --precision fp32,bf16
/// measures each LibTorch device at each precision (the host at fp32), in the order given.
/// </summary>
internal static class BenchDevices
{
    public static Option<string> Device() => new("--device")
    {
        Description = "Devices to measure, comma-separated: host, torch-cpu, cuda, cuda:N (e.g. host,torch-cpu).",
        DefaultValueFactory = _ => "host",
    };

    public static Option<string> Precision() => new("--precision")
    {
        Description = "Precisions, comma-separated: fp32, bf16 (the host and LibTorch), fp16 (LibTorch).",
        DefaultValueFactory = _ => "fp32",
    };

    public static IReadOnlyList<DeviceSpec> Parse(ParseResult parse, Option<string> device, Option<string> precision)
    {
        static string[] List(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var precisions = List(parse.GetValue(precision)!.ToLowerInvariant());
        var specs = new List<DeviceSpec>();
        foreach (var name in List(parse.GetValue(device)!))
        {
            // The host offers fp32 and bf16 (oneDNN's bf16 kernels); LibTorch devices every precision asked for.
            if (DeviceSpec.Parse(name).IsHost) specs.AddRange(precisions.Where(p => p is "fp32" or "bf16").DefaultIfEmpty("fp32").Select(p => DeviceSpec.Parse(name, p)));
            else specs.AddRange(precisions.Select(p => DeviceSpec.Parse(name, p)));
        }
        if (specs.Count == 0) throw new ArgumentException("--device names no device.");
        return specs.Distinct().ToList();
    }

    /// <summary>The device this process's first rank would use for <paramref name="spec"/>.</summary>
    public static Device Get(DeviceSpec spec) => ParallelSetup.Single(1, spec).FirstDevice;

    /// <summary>
    /// Selects the host backend a setup runs with (bf16 on the host is oneDNN's bf16 kernels); returns the one
    /// to restore.
    /// </summary>
    public static IDisposable UseBackend(DeviceSpec spec, string backend)
    {
        var previous = Tensors.Compute.ComputeBackends.Current;
        Tensors.Compute.ComputeBackends.Select(ModelOptions.HostBackend(spec, backend));
        return new Restore(previous);
    }

    /// <summary>
    /// A setup's name in tables and JSON ("host (bf16)" for the host in bf16) and what computes it: the host's
    /// backend in use, or the device itself.
    /// </summary>
    public static (string Name, string Computes) Describe(DeviceSpec spec, Device on) =>
        (on.IsHost && spec.Precision == "bf16" ? "host (bf16)" : on.Name,
            on.IsHost ? Tensors.Compute.ComputeBackends.Current.Name : on.Name);

    private sealed class Restore(Tensors.Compute.IComputeBackend previous) : IDisposable
    {
        public void Dispose() => Tensors.Compute.ComputeBackends.Current = previous;
    }
}
