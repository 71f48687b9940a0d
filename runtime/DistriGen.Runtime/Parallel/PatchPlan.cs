namespace DistriGen.Runtime;

/// <summary>What the generated rewriting does with one member of a [PatchParallel] module.</summary>
public enum PatchMemberKind
{
    /// <summary>A convolution that exchanges halo rows with its neighbours (none for a 1×1 kernel).</summary>
    HaloConv,
    /// <summary>The convolution that reads the full input and cuts out its band.</summary>
    InputConv,
    /// <summary>A GroupNorm whose statistics are shared across ranks.</summary>
    GroupNorm,
    /// <summary>An attention layer: self-attention gathers keys and values; cross-attention stays local.</summary>
    Attention,
    /// <summary>A [PatchParallel] submodule, rewritten by its own generated code.</summary>
    Child,
    /// <summary>A layer that mixes pixels only locally (Linear, LayerNorm, [PixelLocal]), shared as is.</summary>
    Shared,
    /// <summary>A parameter tensor, shared.</summary>
    Parameter,
}

/// <summary>One member of a [PatchParallel] class as the generator saw it. <c>IsList</c>: a ModuleList or array whose elements are all rewritten the same way.</summary>
public sealed record PatchPlanMember(string Member, string StateName, PatchMemberKind Kind, string TypeName, bool IsList, bool IsOptional);

/// <summary>
/// The communication template of one [PatchParallel] class, emitted at compile time: which members
/// communicate and how. Instance paths (with list indices and layer sizes) come from
/// <see cref="PatchContext.Points"/> once a model is rewritten.
/// </summary>
public sealed record PatchPlan(string TypeName, IReadOnlyList<PatchPlanMember> Members)
{
    public IEnumerable<PatchPlanMember> CommunicationPoints =>
        Members.Where(m => m.Kind is PatchMemberKind.HaloConv or PatchMemberKind.GroupNorm or PatchMemberKind.Attention);
}
