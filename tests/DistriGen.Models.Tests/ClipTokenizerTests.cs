using System.Text.Json;
using DistriGen.Models.Text;
using DistriGen.Models.Text.Cleanup;

namespace DistriGen.Models.Tests;

/// <summary>The CLIP tokenizer against transformers 4.34's slow CLIPTokenizer, id for id.</summary>
public sealed class ClipTokenizerTests
{
    private static readonly Lazy<ClipTokenizer> Plain = new(() => ClipTokenizer.Load(Path.Combine(ClipFixture.Root, "sdxl-clip", "tokenizer")));
    private static readonly Lazy<ClipTokenizer> PadBang = new(() => ClipTokenizer.Load(Path.Combine(ClipFixture.Root, "sdxl-clip", "tokenizer_2")));

    public static TheoryData<int> TokenizerCases() => new(Enumerable.Range(0, Cases("tokenizer_cases.json").Count));

    public static TheoryData<int> ExtraCases() => new(Enumerable.Range(0, Cases("tokenizer_extra_cases.json").Count));

    private static List<JsonElement> Cases(string file) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(ClipFixture.Root, file))).RootElement.EnumerateArray().ToList();

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static int[] Untruncated(ClipTokenizer tokenizer, string prompt) => [tokenizer.BosId, .. tokenizer.Tokenize(prompt), tokenizer.EosId];

    [Theory]
    [MemberData(nameof(TokenizerCases))]
    public void Reproduces_transformers_ids(int index)
    {
        var c = Cases("tokenizer_cases.json")[index];
        var prompt = c.GetProperty("prompt").GetString()!;
        Assert.Equal(Ints(c.GetProperty("hf_ids")), Untruncated(Plain.Value, prompt));
        Assert.Equal(Ints(c.GetProperty("hf_ids_pad_bang_tokenizer")), Untruncated(PadBang.Value, prompt));
        Assert.Equal(Ints(c.GetProperty("hf_ids_max_length_77")), Plain.Value.Encode(prompt).Ids);
    }

    /// <summary>Mojibake, ligatures, '!' runs, entities and control characters: ids of ftfy 6.1.1 with CLIP's bpe().</summary>
    [Theory]
    [MemberData(nameof(ExtraCases))]
    public void Reproduces_ftfy_and_bpe_on_hard_prompts(int index)
    {
        var c = Cases("tokenizer_extra_cases.json")[index];
        var prompt = c.GetProperty("prompt").GetString()!;
        Assert.Equal(Ints(c.GetProperty("hf_ids")), Untruncated(Plain.Value, prompt));
        Assert.Equal(Ints(c.GetProperty("hf_ids_pad_bang_tokenizer")), Untruncated(PadBang.Value, prompt));
    }

    [Fact]
    public void Text_cleanup_matches_ftfy_fix_text()
    {
        var failures = new List<string>();
        foreach (var c in Cases("ftfy_cases.json"))
        {
            string text = c.GetProperty("text").GetString()!, expected = c.GetProperty("fixed").GetString()!;
            var actual = TextFixer.FixText(text);
            if (actual != expected) failures.Add($"{Escape(text)} → {Escape(actual)}, ftfy gives {Escape(expected)}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Theory]
    [InlineData("İstanbul", "i\u0307stanbul")]
    [InlineData("ΟΔΟΣ ΣΟΦΟΣ", "οδος σοφος")]
    [InlineData("Σ alone", "σ alone")]
    [InlineData("AΣ.", "aς.")]
    public void Lower_case_is_pythons(string text, string expected) => Assert.Equal(expected, PythonLowercase.Lower(text));

    [Fact]
    public void Long_prompts_keep_75_ids_and_report_what_was_dropped()
    {
        var prompt = string.Join(" ", Enumerable.Repeat("cat", 80));
        var tokens = Plain.Value.Encode(prompt);
        Assert.Equal(77, tokens.Ids.Length);
        Assert.Equal(Plain.Value.EosId, tokens.Ids[76]);
        Assert.Equal(string.Join(" ", Enumerable.Repeat("cat", 5)), tokens.Dropped);
        Assert.Null(Plain.Value.Encode("a cat").Dropped);
    }

    [Fact]
    public void Pad_token_comes_from_the_folder()
    {
        Assert.Equal(49407, Plain.Value.PadId);
        Assert.Equal(0, PadBang.Value.PadId);
        Assert.Equal([49406, 320, 2368, 49407, 0, 0], PadBang.Value.Encode("a cat").Ids[..6]);
    }

    [Fact]
    public void Malformed_merges_name_the_file_and_line()
    {
        var dir = CopyTokenizer();
        var merges = File.ReadAllLines(Path.Combine(dir, "merges.txt"));
        merges[3] = "onlyone";
        File.WriteAllLines(Path.Combine(dir, "merges.txt"), merges);
        var e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
        Assert.Contains("merges.txt, line 4", e.Message);
    }

    [Fact]
    public void Malformed_vocabulary_names_the_file_and_line()
    {
        var dir = CopyTokenizer();
        File.WriteAllText(Path.Combine(dir, "vocab.json"), "{\n\"a\": 1,\n\"b\": oops\n}");
        var e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
        Assert.Contains("vocab.json", e.Message);
        Assert.Contains("line 3", e.Message);
    }

    private static string CopyTokenizer()
    {
        var dir = Path.Combine(Path.GetTempPath(), "distrigen-tokenizer-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        foreach (var f in System.IO.Directory.GetFiles(Path.Combine(ClipFixture.Root, "sd1-clip", "tokenizer")))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    private static string Escape(string s) => string.Concat(s.Select(c => c is >= ' ' and <= '~' ? c.ToString() : $"\\u{(int)c:X4}"));
}
