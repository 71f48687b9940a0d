using System.Diagnostics;

namespace DistriGen.Cli.Tests;

/// <summary>The tool as its own process (or several under mpirun), with its exit code and both output streams.</summary>
internal static class ToolProcess
{
    public static string Tool => Path.Combine(AppContext.BaseDirectory, "distrigen.dll");

    public static string? Mpirun => new[] { "/usr/bin/mpirun", "/usr/local/bin/mpirun" }.FirstOrDefault(File.Exists) is { } path
        && File.Exists("/usr/lib/x86_64-linux-gnu/libmpi.so.40") ? path : null;

    /// <summary>Open MPI is installed here; CI installs it, so there every MPI test runs for real.</summary>
    public static bool HasMpi()
    {
        if (Mpirun is not null) return true;
        Assert.True(Environment.GetEnvironmentVariable("CI") is null, "CI must install Open MPI (openmpi-bin, libopenmpi-dev)");
        return false;
    }

    public sealed record Result(int ExitCode, string Output, string Errors)
    {
        public string All => Output + Errors;
    }

    /// <summary>`dotnet distrigen.dll args…` with stdout and stderr redirected.</summary>
    public static Task<Result> Run(IEnumerable<string> args, IDictionary<string, string>? environment = null, TimeSpan? timeout = null) =>
        Start("dotnet", [Tool, .. args], environment, timeout);

    /// <summary>
    /// mpirun with the given application contexts ("-n 1 dotnet distrigen.dll … : -n 1 …"); each context is
    /// the tool's arguments for its ranks.
    /// </summary>
    public static Task<Result> RunMpi(IReadOnlyList<(int Ranks, string[] Args)> contexts, IDictionary<string, string>? environment = null,
        Action<Process>? whileRunning = null, TimeSpan? timeout = null, string? outputDirectory = null)
    {
        var args = new List<string> { "--allow-run-as-root", "--oversubscribe", "--bind-to", "none" };
        // Each rank's output is also written as it comes to DIR/1/rank.N/stdout, for tests that act on progress.
        if (outputDirectory is not null) args.AddRange(["--output-filename", outputDirectory]);
        for (int i = 0; i < contexts.Count; i++)
        {
            if (i > 0) args.Add(":");
            args.AddRange(["-n", contexts[i].Ranks.ToString(), "dotnet", Tool, .. contexts[i].Args]);
        }
        return Start(Mpirun!, args, environment, timeout, whileRunning);
    }

    private static async Task<Result> Start(string file, IEnumerable<string> args, IDictionary<string, string>? environment, TimeSpan? timeout, Action<Process>? whileRunning = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        whileRunning?.Invoke(process);
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(" ", start.ArgumentList)} did not finish: {await output} {await errors}");
        }
        return new Result(process.ExitCode, await output, await errors);
    }
}
