namespace DistriGen.Generators.Tests;

/// <summary>Model code as a user would write it, for the generator to read.</summary>
internal static class Sources
{
    public const string Usings = """
        using DistriGen.Runtime;
        using DistriGen.Tensors;
        using DistriGen.Tensors.Nn;
        using DistriGen.Tensors.Ops;

        """;

    public const string Resnet = Usings + """
        namespace Demo;

        /// A resnet block with an optional 1×1 shortcut.
        [PatchParallel]
        public sealed partial class TinyResnet : Module
        {
            public TinyResnet(int cin, int cout)
            {
                Norm1 = new GroupNorm(4, cin);
                Conv1 = new Conv2d(cin, cout, 3, padding: 1);
                TimeEmbProj = new Linear(16, cout);
                Norm2 = new GroupNorm(4, cout);
                Conv2 = new Conv2d(cout, cout, 3, padding: 1);
                ConvShortcut = cin != cout ? new Conv2d(cin, cout, 1) : null;
            }

            public GroupNorm Norm1 { get; }
            public Conv2d Conv1 { get; }
            public Linear TimeEmbProj { get; }
            public GroupNorm Norm2 { get; }
            public Conv2d Conv2 { get; }
            public Conv2d? ConvShortcut { get; }
            private readonly float _scale = 1f;

            public Tensor Forward(Tensor x)
            {
                using var h = Conv1.Forward(Norm1.Forward(x, Activation.Silu));
                var y = Conv2.Forward(Norm2.Forward(h, Activation.Silu));
                return Ops.AddInPlace(y, ConvShortcut?.Forward(x) ?? x);
            }
        }
        """;

    public const string TransformerBlock = Usings + """
        namespace Demo.Transformers;

        [PatchParallel]
        public sealed partial class FeedForward : Module
        {
            public FeedForward(int dim) { Proj = new Linear(dim, 8 * dim); Out = new Linear(4 * dim, dim); }

            [StateName("net.0.proj")] public Linear Proj { get; }
            [StateName("net.2")] public Linear Out { get; }
        }

        [PatchParallel]
        public sealed partial class TransformerBlock : Module
        {
            public TransformerBlock(int dim, int heads, int textDim)
            {
                Norm1 = new LayerNorm(dim);
                Attn1 = new Attention(dim, heads, dim / heads);
                Norm2 = new LayerNorm(dim);
                Attn2 = new Attention(dim, heads, dim / heads, textDim);
                Norm3 = new LayerNorm(dim);
                Ff = new FeedForward(dim);
            }

            public LayerNorm Norm1 { get; }
            public Attention Attn1 { get; }
            public LayerNorm Norm2 { get; }
            public Attention Attn2 { get; }
            public LayerNorm Norm3 { get; }
            public FeedForward Ff { get; }
        }
        """;

    public const string ListOfChildren = Usings + """
        namespace Demo;

        [PatchParallel]
        public sealed partial class Leaf : Module
        {
            public Leaf(int c) => Conv = new Conv2d(c, c, 3, padding: 1);
            public Conv2d Conv { get; }
        }

        /// Holds a list of annotated children, an array of convolutions, a parameter and readonly fields.
        [PatchParallel]
        public sealed partial class Stack : Module
        {
            private readonly ModuleList<Leaf> _leaves;
            private readonly Conv2d[] _extra;
            private readonly int _depth;

            public Stack(int c, int depth)
            {
                _depth = depth;
                _leaves = new ModuleList<Leaf>(Enumerable.Range(0, depth).Select(_ => new Leaf(c)));
                _extra = [new Conv2d(c, c, 3, padding: 1), new Conv2d(c, c, 1)];
                Scale = Tensor.Parameter(c);
            }

            [SplitsInput]
            public Conv2d Input { get; } = new Conv2d(3, 8, 3, padding: 1);

            public Tensor Scale { get; }
        }
        """;

    public const string NestedAndDerived = Usings + """
        namespace Demo.Nested;

        public static partial class Blocks
        {
            [PatchParallel]
            public partial class Base : Module
            {
                public Base() => Norm = new GroupNorm(2, 4);
                public GroupNorm Norm { get; }
            }

            [PatchParallel]
            public sealed partial class Derived : Base
            {
                public Derived() => Conv = new Conv2d(4, 4, 3, padding: 1);
                public Conv2d Conv { get; }
            }
        }
        """;
}
