using DistriGen.Models.Pipelines;
using DistriGen.Models.Text;
using DistriGen.Tensors;

namespace DistriGen.Models.Tests;

/// <summary>CLIP text encoders and diffusers 0.24's encode_prompt against the reference numbers (1e-4).</summary>
public sealed class ClipTextEncoderTests
{
    private static ClipFixture Sd1 => ClipFixture.Get("sd1-clip");
    private static ClipFixture Sdxl => ClipFixture.Get("sdxl-clip");

    public static TheoryData<int> Prompts() => new(Enumerable.Range(0, 12));

    [Theory]
    [MemberData(nameof(Prompts))]
    public void Sd1_ids_and_encoder_outputs_match_transformers(int b)
    {
        var (tokenizer, encoder) = Sd1.Encoder.Towers[0];
        var ids = tokenizer.Encode(Sd1.Prompts[b]).Ids;
        Assert.Equal(Sd1.Ids("input_ids", b), ids);
        Assert.Equal(Sd1.Ids("negative_input_ids", b), tokenizer.Encode(Sd1.NegativePrompts[b]).Ids);
        Assert.Equal(Sd1.Ids("pooled_eos_index", b)[0], encoder.PoolingPosition(ids));
        using var output = encoder.Forward([ids]);
        ClipFixture.Close(Sd1.Row("last_hidden_state", b), output.LastHiddenState, "last_hidden_state");
        using var pooled = Sd1.Row("pooler_output", b);
        ClipFixture.Close(pooled, output.Pooled, "pooler_output");
        for (int layer = 0; layer < output.HiddenStates.Count; layer++)
            ClipFixture.Close(HiddenState(Sd1, "hidden_states_all", layer, b), output.HiddenStates[layer], $"hidden_states[{layer}]");
    }

    [Theory]
    [MemberData(nameof(Prompts))]
    public void Sd1_encode_prompt_matches_diffusers(int b)
    {
        using var e = Sd1.Encoder.Encode(new PromptRequest(Sd1.Prompts[b], Sd1.NegativePrompts[b]));
        ClipFixture.Close(Sd1.Row("prompt_embeds", b), e.PromptEmbeds, "prompt_embeds");
        ClipFixture.Close(Sd1.Row("negative_prompt_embeds", b), e.NegativePromptEmbeds, "negative_prompt_embeds");
        Assert.Null(e.PooledPromptEmbeds);
        using var skipped = Sd1.Encoder.Encode(new PromptRequest(Sd1.Prompts[b], Sd1.NegativePrompts[b], ClipSkip: 1));
        ClipFixture.Close(Sd1.Row("prompt_embeds_clip_skip_1", b), skipped.PromptEmbeds, "clip_skip 1");
        ClipFixture.Close(Sd1.Row("negative_prompt_embeds", b), skipped.NegativePromptEmbeds, "clip_skip leaves the negative prompt alone");
    }

    [Fact]
    public void Sd1_without_negative_prompt_encodes_the_empty_string()
    {
        using var e = Sd1.Encoder.Encode(new PromptRequest(Sd1.Prompts[0]));
        ClipFixture.Close(Sd1.Row("negative_prompt_embeds_none", 0), e.NegativePromptEmbeds, "negative_prompt=None");
        Assert.Equal(Sd1.Ids("empty_input_ids", 0), e.NegativeInputIds[0]);
    }

    [Theory]
    [MemberData(nameof(Prompts))]
    public void Sdxl_encoders_and_encode_prompt_match_diffusers(int b)
    {
        var towers = Sdxl.Encoder.Towers;
        Assert.Equal(Sdxl.Ids("input_ids", b), towers[0].Tokenizer.Encode(Sdxl.Prompts[b]).Ids);
        Assert.Equal(Sdxl.Ids("input_ids_2", b), towers[1].Tokenizer.Encode(Sdxl.Prompts[b]).Ids);
        Assert.Equal(Sdxl.Ids("negative_input_ids_2", b), towers[1].Tokenizer.Encode(Sdxl.NegativePrompts[b]).Ids);
        using (var second = towers[1].Encoder.Forward([towers[1].Tokenizer.Encode(Sdxl.Prompts[b]).Ids]))
        {
            ClipFixture.Close(Sdxl.Row("last_hidden_state_2", b), second.LastHiddenState, "last_hidden_state_2");
            ClipFixture.Close(Sdxl.Row("text_embeds_2", b), second.TextEmbeds!, "text_embeds_2");
        }
        using var e = Sdxl.Encoder.Encode(new PromptRequest(Sdxl.Prompts[b], Sdxl.NegativePrompts[b]));
        ClipFixture.Close(Sdxl.Row("prompt_embeds", b), e.PromptEmbeds, "prompt_embeds");
        ClipFixture.Close(Sdxl.Row("pooled_prompt_embeds", b), e.PooledPromptEmbeds!, "pooled_prompt_embeds");
        ClipFixture.Close(Sdxl.Row("negative_prompt_embeds", b), e.NegativePromptEmbeds, "negative_prompt_embeds");
        ClipFixture.Close(Sdxl.Row("negative_pooled_prompt_embeds", b), e.NegativePooledPromptEmbeds!, "negative_pooled_prompt_embeds");
    }

    [Fact]
    public void Sdxl_zeros_the_negative_side_only_when_no_negative_prompt_is_given()
    {
        using var none = Sdxl.Encoder.Encode(new PromptRequest(Sdxl.Prompts[0]));
        ClipFixture.Close(Sdxl.Row("negative_prompt_embeds_none", 0), none.NegativePromptEmbeds, "negative_prompt=None");
        ClipFixture.Close(Sdxl.Row("negative_pooled_prompt_embeds_none", 0), none.NegativePooledPromptEmbeds!, "pooled, negative_prompt=None");
        Assert.All(none.NegativePromptEmbeds.ToArray(), v => Assert.Equal(0f, v));
        using var empty = Sdxl.Encoder.Encode(new PromptRequest(Sdxl.Prompts[0], ""));
        ClipFixture.Close(Sdxl.Row("negative_prompt_embeds_empty_string", 0), empty.NegativePromptEmbeds, "negative_prompt=\"\"");
        ClipFixture.Close(Sdxl.Row("negative_pooled_prompt_embeds_empty_string", 0), empty.NegativePooledPromptEmbeds!, "pooled, negative_prompt=\"\"");
    }

    [Fact]
    public void Conditioning_puts_the_negative_side_first()
    {
        using var e = Sdxl.Encoder.Encode(new PromptRequest(Sdxl.Prompts[1], Sdxl.NegativePrompts[1]));
        var c = e.ToConditioning();
        Assert.Equal([2, 77, 72], c.EncoderHiddenStates.Shape);
        Assert.Equal(e.NegativePromptEmbeds.ToArray(), c.EncoderHiddenStates.ToArray()[..(77 * 72)]);
        Assert.Equal([2, 24], c.TextEmbeds!.Shape);
    }

    [Fact]
    public void A_long_prompt_is_cut_with_a_warning_that_says_what_was_dropped()
    {
        using var e = Sd1.Encoder.Encode(new PromptRequest(string.Join(" ", Enumerable.Repeat("castle", 78)) + " on a hill"));
        var warning = Assert.Single(e.Warnings);
        Assert.Contains("truncated", warning);
        Assert.Contains("\"castle castle castle on a hill\"", warning);
        Assert.Empty(Sd1.Encoder.Encode(new PromptRequest("a castle")).Warnings);
    }

    [Fact]
    public void Clip_skip_past_the_first_layer_is_rejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Sd1.Encoder.Encode(new PromptRequest("a cat", null, ClipSkip: 4)));
        Assert.Contains("--clip-skip 4", e.Message);
    }

    /// <summary>hidden_states_all is (layers + 1, prompts, 77, H).</summary>
    private static Tensor HiddenState(ClipFixture fixture, string key, int layer, int prompt)
    {
        using var all = fixture.Expected.Read(key);
        int per = all.Dim(2) * all.Dim(3);
        return Tensor.FromArray(all.Span.Slice((layer * all.Dim(1) + prompt) * per, per), 1, all.Dim(2), all.Dim(3));
    }
}
