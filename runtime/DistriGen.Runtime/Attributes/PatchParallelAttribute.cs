namespace DistriGen.Runtime;

/// <summary>
/// Marks a partial <see cref="DistriGen.Tensors.Nn.Module"/> whose patch-parallel variant the compiler
/// generates: its convolutions exchange halos, its self-attention gathers keys and values, its
/// GroupNorms share statistics, and its [PatchParallel] children become their own variants.
/// The generated part also names the module's children for state-dict loading, from the member names
/// in snake_case (override with <see cref="StateNameAttribute"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class PatchParallelAttribute : Attribute;

/// <summary>
/// Declares that a user-written layer mixes pixels only locally (per pixel or per token), so a
/// patch-parallel model shares it as it is.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class PixelLocalAttribute : Attribute;

/// <summary>The state-dict name of a member when it is not the member name in snake_case (e.g. "net.0", or "" to flatten).</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class StateNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>
/// Marks the convolution that reads the model's full, unsplit input (conv_in): each rank takes its
/// band and halo from the input every rank already holds, with no communication.
/// </summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class SplitsInputAttribute : Attribute;

/// <summary>Excludes a member from the generated rewriting and child list (e.g. a cache the module manages itself).</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class NotPatchedAttribute : Attribute;
