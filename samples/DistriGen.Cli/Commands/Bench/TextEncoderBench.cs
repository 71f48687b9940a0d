using System.CommandLine;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using Spectre.Console;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>bench text-encoder: one prompt pair through CLIP text encoders with random weights at real size.</summary>
internal static class TextEncoderBench
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "sd15 (CLIP-L), sd2 (OpenCLIP-H) or sdxl (CLIP-L and OpenCLIP-bigG).", DefaultValueFactory = _ => "sd15" };
        var threads = BenchOptions.Threads();
        var repeat = BenchOptions.Repeat();
        var backend = BenchOptions.Backend();
        var json = BenchOptions.Json();
        var command = new Command("text-encoder", "Time to encode one prompt pair (prompt and negative prompt, 77 tokens each) with random weights at real size.")
            { config, threads, repeat, backend, json };
        command.SetAction(parse =>
        {
            using var budget = ComputeThreads.Use(parse.GetValue(threads));
            ComputeBackends.Select(parse.GetValue(backend)!);
            var name = parse.GetValue(config)!;
            var configs = name.ToLowerInvariant() switch
            {
                "sd15" or "sd1.5" => new[] { Models.Text.ClipTextConfig.ClipL },
                "sd2" => [Models.Text.ClipTextConfig.OpenClipH],
                "sdxl" => [Models.Text.ClipTextConfig.ClipL, Models.Text.ClipTextConfig.OpenClipBigG],
                _ => throw new ArgumentException($"--config '{name}' is not sd15, sd2 or sdxl."),
            };
            var encoders = configs.Select((c, i) =>
            {
                var encoder = new Models.Text.ClipTextModel(c);
                encoder.InitializeRandom(i);
                return encoder;
            }).ToList();
            // A prompt of 20 tokens and an empty negative prompt, padded to 77 as the pipelines do.
            var prompt = new int[77];
            var negative = new int[77];
            Array.Fill(prompt, 49407);
            Array.Fill(negative, 49407);
            prompt[0] = negative[0] = 49406;
            for (int i = 1; i <= 20; i++) prompt[i] = 320 + 97 * i;
            AnsiConsole.MarkupLine($"{Markup.Escape(name)} text encoder{(encoders.Count > 1 ? "s" : "")}: {string.Join(" + ", encoders.Select(e => $"{e.ParameterCount() / 1e6:0} M parameters"))}, " +
                $"{ComputeThreads.Current} thread(s), {Markup.Escape(ComputeBackends.Current.Name)}");
            var timing = BenchTiming.Report(() =>
            {
                using var scope = new TensorScope();
                foreach (var encoder in encoders)
                {
                    encoder.Forward([prompt]).Dispose();
                    encoder.Forward([negative]).Dispose();
                }
            }, parse.GetValue(repeat));
            BenchJson.Write(parse.GetValue(json), new { config = name, threads = ComputeThreads.Current, backend = ComputeBackends.Current.Name, prompt_pair = timing.ToJson() });
            return 0;
        });
        return command;
    }
}
