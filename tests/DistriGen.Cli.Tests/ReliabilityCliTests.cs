using System.Diagnostics;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;

namespace DistriGen.Cli.Tests;

/// <summary>
/// Bad input, failing ranks and bad outputs as a user or an operator meets them: the tool exits
/// non-zero with one line that says what is wrong, and never writes a wrong or half-written file.
/// </summary>
public sealed class ReliabilityCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distrigen-reliability-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Temp(string name) => Path.Combine(_dir, name);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    /// <summary>The one error line on standard error.</summary>
    private static string ErrorLine(ToolProcess.Result r)
    {
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return Assert.Single(lines, l => l.StartsWith("error:"));
    }

    [Theory]
    [InlineData("--guidance", "NaN")]
    [InlineData("--guidance", "Infinity")]
    [InlineData("--guidance", "-2")]
    [InlineData("--guidance-rescale", "NaN")]
    [InlineData("--comm-timeout", "0")]
    public async Task Impossible_options_are_rejected_before_the_model_loads(string option, string value)
    {
        // The model folder does not exist: the option is checked first.
        var r = await ToolProcess.Run(["generate", "a cat", "--model", Temp("no-such-model"), option, value, "--out", Temp("x.png")]);
        Assert.Contains(option, ErrorLine(r));
    }

    [Fact]
    public async Task Output_paths_that_cannot_be_written_are_rejected_first()
    {
        File.WriteAllText(Temp("a-file"), "x");
        foreach (var (path, words) in new[] { (_dir, "folder"), (Temp("a-file/image.png"), "is a file"), ("", "empty") })
        {
            var r = await ToolProcess.Run(["generate", "--model", Temp("no-such-model"), "--out", path]);
            var line = ErrorLine(r);
            Assert.Contains("--out", line);
            Assert.Contains(words, line);
        }
        Assert.False(File.Exists(Temp("image.png")));
    }

    [Fact]
    public async Task Nan_weights_stop_the_run_naming_the_step_and_layer_and_keep_the_old_image()
    {
        var model = Temp("nan-model");
        foreach (var part in new[] { "unet", "vae", "scheduler" }) ModelFolders.CopyFolder(Path.Combine(Fixture("sd-tiny"), part), Path.Combine(model, part));
        var weights = Path.Combine(model, "unet", "diffusion_pytorch_model.safetensors");
        var tensors = new Dictionary<string, Tensor>();
        using (var file = SafeTensorsFile.Open(weights))
            foreach (var key in file.Keys) tensors[key] = file.Read(key).Keep();
        tensors["mid_block.resnets.0.conv1.weight"].Span[7] = float.NaN;
        SafeTensorsWriter.Write(weights, tensors);
        File.WriteAllBytes(Temp("image.png"), [1, 2, 3]);

        var inputs = Path.Combine(Fixture("sd-tiny"), "inputs.safetensors");
        var r = await ToolProcess.Run(["generate", "--model", model, "--embeddings", inputs, "--steps", "2", "--size", "64x64", "--out", Temp("image.png")]);
        var line = ErrorLine(r);
        Assert.Contains("non-finite", line);
        Assert.Contains("step 1 of 2", line);
        Assert.Contains("mid_block.resnets.0.conv1", line);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Temp("image.png")));
    }

    [Fact]
    public async Task Redirected_output_has_no_colour_codes_and_no_wrapped_lines()
    {
        var r = await ToolProcess.Run(["generate", "a red circle on dark background", "--steps", "2", "--out", Temp("c.png")]);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("\u001b[", r.All);
        // The summary is one line however long it is.
        Assert.Contains(r.Output.Split('\n'), l => l.StartsWith("wrote ") && l.Contains("total"));
        Assert.Contains(r.Output.Split('\n'), l => l.StartsWith("model ") && l.Contains("steps") && l.Contains("thread"));
    }

    public static TheoryData<string, string, string> MismatchedRanks() => new()
    {
        { "--seed", "1", "2" },
        { "--size", "32x32", "64x32" },
        { "--steps", "3", "4" },
        { "--parallelism", "distrifusion", "exact" },
    };

    [Theory]
    [MemberData(nameof(MismatchedRanks))]
    public async Task Ranks_started_with_different_arguments_stop_naming_the_option(string option, string first, string second)
    {
        if (!ToolProcess.HasMpi()) return;
        string[] Args(string value) => ["generate", "a blue ring on grass background", "--threads-per-rank", "1", option, value, "--out", Temp($"{value}.png")];
        var watch = Stopwatch.StartNew();
        var r = await ToolProcess.RunMpi([(1, Args(first)), (1, Args(second))], timeout: TimeSpan.FromSeconds(90));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("differ", r.All);
        Assert.Contains(option, r.All);
        Assert.DoesNotContain("malloc", r.All);
        Assert.False(File.Exists(Temp($"{first}.png")));
    }

    [Fact]
    public async Task A_stopped_rank_makes_the_others_stop_after_the_timeout_with_our_message()
    {
        if (!ToolProcess.HasMpi()) return;
        var marker = Guid.NewGuid().ToString("N");
        int? stopped = null;
        try
        {
            var outputs = Temp("rank-output");
            var r = await ToolProcess.RunMpi(
                [(2, ["generate", "a red square on light background", "--size", "64x64", "--steps", "500",
                    "--ranks", "2", "--threads-per-rank", "1", "--comm-timeout", "3", "--out", Temp("stopped.png")])],
                new Dictionary<string, string> { ["DISTRIGEN_TEST_MARKER"] = marker },
                _ =>
                {
                    // Rank 1 stops (SIGSTOP) once rank 0 has printed its header: both ranks are past MPI's start-up
                    // (which has no timeout of ours) and about to exchange. However loaded the machine, 500 steps
                    // leave the run unfinished by then.
                    var header = Path.Combine(outputs, "1", "rank.0", "stdout");
                    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                    while (DateTime.UtcNow < deadline && !(File.Exists(header) && File.ReadAllText(header).Contains("model")))
                        Thread.Sleep(100);
                    stopped = RankProcess(marker, 1);
                    if (stopped is { } pid) Signal("STOP", pid);
                },
                TimeSpan.FromSeconds(120), outputs);
            Assert.NotNull(stopped);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("waited 3 s for rank 1", r.All);
            Assert.False(File.Exists(Temp("stopped.png")));
        }
        finally
        {
            if (stopped is { } pid)
            {
                Signal("CONT", pid);
                Signal("KILL", pid);
            }
        }
    }

    /// <summary>The process of <paramref name="rank"/> in the MPI job whose environment carries <paramref name="marker"/>.</summary>
    private static int? RankProcess(string marker, int rank)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                var environment = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0');
                if (environment.Contains($"DISTRIGEN_TEST_MARKER={marker}") && environment.Contains($"OMPI_COMM_WORLD_RANK={rank}")
                    && File.ReadAllText(Path.Combine(dir, "cmdline")).Contains("distrigen.dll"))
                    return pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return null;
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString()]);
        kill.WaitForExit();
    }
}
