using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DistriGen.Bench.OrtPeer;

/// <summary>
/// The ONNX Runtime peer of <c>distrigen bench</c>: loads one ONNX model, feeds it inputs of its declared shapes and
/// times <c>Run</c> on the CPU execution provider with the settings ONNX Runtime documents for best CPU latency.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: OrtPeer MODEL.onnx [--threads N] [--repeat N] [--warmup N] [--json FILE] [--label TEXT]
                                  [--optimized-model PATH] [--check DIR]

          --threads N             intra-op threads (default 2); inter-op is 1, execution sequential
          --repeat N              timed runs (default 3); prints their median and minimum
          --warmup N              untimed runs first (default 1); the first timed run after a single warm-up is
                                  still slow (likely: the memory pattern's block is new memory); the median hides it
          --json FILE             also write {"engine","version","seconds","min","threads",...} to FILE
          --label TEXT            name in the report (default: the model's folder, e.g. sd15-unet -> "sd15 unet")
          --optimized-model PATH  save the ORT_ENABLE_ALL graph to PATH the first time; later runs load PATH
                                  with optimizations off, which skips the optimizer at start-up
          --check DIR             take the inputs from DIR/io.json (written by export_onnx.py) instead of random
                                  ones and compare the first output with the torch reference stored there
        """;

    public static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        string version = OrtEnv.Instance().GetVersionString();
        var load = Stopwatch.StartNew();
        using InferenceSession session = CreateSession(options, out string loadedFrom);
        load.Stop();
        Console.WriteLine($"loaded {loadedFrom} in {load.Elapsed.TotalSeconds:F1} s");

        Reference? reference = options.Check is null ? null : Reference.Load(options.Check);
        var names = session.InputMetadata.Keys.ToArray();
        var inputs = new List<OrtValue>();
        try
        {
            foreach (var name in names)
            {
                NodeMetadata meta = session.InputMetadata[name];
                inputs.Add(reference?.Input(name, meta) ?? RandomInput(meta));
            }

            string[] outputNames = session.OutputMetadata.Keys.ToArray();
            using var runOptions = new RunOptions();
            var times = new List<double>();
            for (int i = 0; i < options.Warmup + options.Repeat; i++)
            {
                var clock = Stopwatch.StartNew();
                using var outputs = session.Run(runOptions, names, inputs, outputNames);
                clock.Stop();
                if (i < options.Warmup)
                {
                    // Warm-up runs pay for the arena's first allocations; they are the ones checked, not timed.
                    Console.WriteLine($"warm-up run: {clock.Elapsed.TotalSeconds:F3} s");
                    if (i == 0)
                    {
                        reference?.Compare(outputNames[0], outputs.First());
                    }
                }
                else
                {
                    times.Add(clock.Elapsed.TotalSeconds);
                }
            }

            Report(options, version, times, load.Elapsed.TotalSeconds);
        }
        finally
        {
            foreach (var value in inputs)
            {
                value.Dispose();
            }
        }

        return 0;
    }

    private static InferenceSession CreateSession(Options options, out string loadedFrom)
    {
        // ONNX Runtime's CPU performance guide: all graph optimizations (incl. NCHWc layouts), sequential execution
        // with one inter-op thread, the intra-op pool sized to the cores, memory pattern planning and the CPU arena.
        using var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = options.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            EnableMemoryPattern = true,
            EnableCpuMemArena = true,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        string? saved = options.OptimizedModel;
        if (saved is not null && File.Exists(saved))
        {
            // The saved graph already went through ORT_ENABLE_ALL on this machine: running the optimizers again
            // would only cost start-up time (the documented "offline mode").
            so.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
            loadedFrom = $"{saved} (pre-optimized)";
            return new InferenceSession(saved, so);
        }

        if (saved is not null)
        {
            // ONNX Runtime opens the file but does not create its folder.
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(saved))!);
            so.OptimizedModelFilePath = saved;
            // A UNet is over protobuf's 2 GiB limit, so the optimized copy keeps its weights in one side file.
            so.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name",
                Path.GetFileName(saved) + ".data");
            so.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
        }

        loadedFrom = saved is null ? options.Model : $"{options.Model} (optimized graph saved to {saved})";
        return new InferenceSession(options.Model, so);
    }

    private static OrtValue RandomInput(NodeMetadata meta)
    {
        long[] shape = Shape(meta);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var random = new Random(0);
        switch (meta.ElementDataType)
        {
            case TensorElementType.Float:
            {
                var data = new float[count];
                if (shape.Length == 1)
                {
                    // A rank-1 float input of a diffusion model is its timestep; 500 is what pytorch_peer.py uses.
                    Array.Fill(data, 500f);
                }
                else
                {
                    for (long i = 0; i < count; i++)
                    {
                        data[i] = Gaussian(random);
                    }
                }

                return OrtValue.CreateTensorValueFromMemory(data, shape);
            }

            case TensorElementType.Int64:
            {
                var data = new long[count];
                for (long i = 0; i < count; i++)
                {
                    data[i] = random.Next(0, 1000);
                }

                return OrtValue.CreateTensorValueFromMemory(data, shape);
            }

            default:
                throw new NotSupportedException($"input type {meta.ElementDataType} (only float32 and int64)");
        }
    }

    internal static long[] Shape(NodeMetadata meta)
    {
        if (meta.Dimensions.Any(d => d < 0))
        {
            // Timing a symbolic shape would time whatever size was guessed; export with fixed shapes instead.
            throw new NotSupportedException($"symbolic shape [{string.Join(", ", meta.SymbolicDimensions)}]");
        }

        return meta.Dimensions.Select(d => (long)d).ToArray();
    }

    private static float Gaussian(Random random)
    {
        // Box-Muller: the inputs only need to look like latents/embeddings, not to be a particular stream.
        double u = 1.0 - random.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2.0 * Math.PI * random.NextDouble()));
    }

    private static void Report(Options options, string version, List<double> times, double loadSeconds)
    {
        var sorted = times.Order().ToArray();
        int n = sorted.Length;
        // As Python's statistics.median, so the numbers line up with pytorch_peer.py.
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
        double min = sorted[0];
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"peak resident memory: {peak / (1024.0 * 1024 * 1024):F2} GiB"));
        Console.WriteLine(string.Create(c,
            $"onnxruntime {version} {options.Label}: {median:F3} s per call (median of {n}, min {min:F3}), " +
            $"{options.Threads} thread{(options.Threads == 1 ? "" : "s")}"));
        if (options.Json is null)
        {
            return;
        }

        using var stream = File.Create(options.Json);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("engine", "onnxruntime");
        json.WriteString("version", version);
        json.WriteString("label", options.Label);
        json.WriteString("model", options.Model);
        json.WriteNumber("seconds", median);
        json.WriteNumber("min", min);
        json.WriteNumber("threads", options.Threads);
        json.WriteNumber("repeat", n);
        json.WriteNumber("warmup", options.Warmup);
        json.WriteNumber("load_seconds", loadSeconds);
        json.WriteNumber("peak_rss_bytes", peak);
        json.WriteStartArray("times");
        foreach (double t in times)
        {
            json.WriteNumberValue(t);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private sealed record Options(
        string Model, int Threads, int Repeat, int Warmup, string? Json, string Label, string? OptimizedModel,
        string? Check)
    {
        public static Options Parse(string[] args)
        {
            string? model = null, json = null, label = null, optimized = null, check = null;
            int threads = 2, repeat = 3, warmup = 1;
            for (int i = 0; i < args.Length; i++)
            {
                string Value() =>
                    i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--threads": threads = Positive(Value(), "--threads"); break;
                    case "--repeat": repeat = Positive(Value(), "--repeat"); break;
                    case "--warmup": warmup = Positive(Value(), "--warmup"); break;
                    case "--json": json = Value(); break;
                    case "--label": label = Value(); break;
                    case "--optimized-model": optimized = Value(); break;
                    case "--check": check = Value(); break;
                    case "-h" or "--help": throw new ArgumentException("OrtPeer: time an ONNX model with ONNX Runtime");
                    default:
                        if (args[i].StartsWith('-') || model is not null)
                        {
                            throw new ArgumentException($"unexpected argument {args[i]}");
                        }

                        model = args[i];
                        break;
                }
            }

            if (model is null || !File.Exists(model))
            {
                throw new ArgumentException(model is null ? "no model given" : $"{model} does not exist");
            }

            // The exporter names the folder after what is in it (sd15-unet/model.onnx), so that is the default label.
            label ??= Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(model)))?.Replace('-', ' ')
                ?? Path.GetFileNameWithoutExtension(model);
            return new Options(model, threads, repeat, warmup, json, label, optimized, check);
        }

        private static int Positive(string text, string name) =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
                ? v
                : throw new ArgumentException($"{name} needs a positive integer, not {text}");
    }

    /// <summary>The inputs and torch outputs that export_onnx.py leaves in OUT/io/ (io.json, raw .bin).</summary>
    private sealed class Reference
    {
        private readonly string _folder;
        private readonly Dictionary<string, Entry> _inputs;
        private readonly Dictionary<string, Entry> _outputs;

        private Reference(string folder, Dictionary<string, Entry> inputs, Dictionary<string, Entry> outputs)
        {
            _folder = folder;
            _inputs = inputs;
            _outputs = outputs;
        }

        public static Reference Load(string folder)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "io.json")));
            Dictionary<string, Entry> Read(string kind) => doc.RootElement.GetProperty(kind).EnumerateArray()
                .Select(e => new Entry(
                    e.GetProperty("name").GetString()!,
                    e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
                    e.GetProperty("dtype").GetString()!,
                    e.GetProperty("file").GetString()!))
                .ToDictionary(e => e.Name);
            return new Reference(folder, Read("inputs"), Read("outputs"));
        }

        public OrtValue Input(string name, NodeMetadata meta)
        {
            if (!_inputs.TryGetValue(name, out var entry))
            {
                throw new InvalidDataException($"io.json has no input {name}");
            }

            if (!entry.Shape.SequenceEqual(Shape(meta)))
            {
                throw new InvalidDataException($"{name}: io.json shape [{string.Join(", ", entry.Shape)}] " +
                    $"is not the model's [{string.Join(", ", meta.Dimensions)}]");
            }

            byte[] bytes = File.ReadAllBytes(Path.Combine(_folder, entry.File));
            return entry.DType switch
            {
                "float32" => OrtValue.CreateTensorValueFromMemory(MemoryMarshal.Cast<byte, float>(bytes).ToArray(),
                    entry.Shape),
                "int64" => OrtValue.CreateTensorValueFromMemory(MemoryMarshal.Cast<byte, long>(bytes).ToArray(),
                    entry.Shape),
                _ => throw new NotSupportedException($"{name}: dtype {entry.DType}"),
            };
        }

        public void Compare(string name, OrtValue actual)
        {
            if (!_outputs.TryGetValue(name, out var entry))
            {
                throw new InvalidDataException($"io.json has no output {name}");
            }

            var expected = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(_folder, entry.File)));
            var got = actual.GetTensorDataAsSpan<float>();
            if (got.Length != expected.Length)
            {
                throw new InvalidDataException($"{name}: {got.Length} values, torch has {expected.Length}");
            }

            // Max error over the output's largest magnitude, and the relative L2 norm: one outlier vs. overall.
            double maxDiff = 0, maxRef = 0, diff2 = 0, ref2 = 0;
            for (int i = 0; i < got.Length; i++)
            {
                double d = Math.Abs((double)got[i] - expected[i]);
                maxDiff = Math.Max(maxDiff, d);
                maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
                diff2 += d * d;
                ref2 += (double)expected[i] * expected[i];
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"check {name} vs torch: max |diff| {maxDiff:0.00e+00} (max |torch| {maxRef:F3}, relative " +
                $"{maxDiff / maxRef:0.00e+00}), relative L2 {Math.Sqrt(diff2 / ref2):0.00e+00}"));
        }

        private sealed record Entry(string Name, long[] Shape, string DType, string File);
    }
}
