using System.Collections.Concurrent;

namespace DistriGen.Runtime.Communication;

/// <summary>
/// The dedicated threads in-process ranks run on, kept between runs: what a compute library keeps per
/// thread (oneDNN's primitives and streams, scratch buffers) is made once per rank thread, not again
/// for every generation, and never piles up as threads come and go.
/// </summary>
internal static class RankThreads
{
    private static readonly ConcurrentBag<Worker> Idle = [];

    /// <summary>Starts <paramref name="work"/> on a rank thread; the task completes when it has run.</summary>
    public static Task Start(Action work)
    {
        var worker = Idle.TryTake(out var idle) ? idle : new Worker();
        return worker.Post(work);
    }

    private sealed class Worker
    {
        private readonly BlockingCollection<(Action Work, TaskCompletionSource Done)> _queue = new();

        public Worker()
        {
            var thread = new Thread(Loop, maxStackSize: 16 << 20) { IsBackground = true, Name = "distrigen-rank" };
            thread.Start();
        }

        public Task Post(Action work)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _queue.Add((work, done));
            return done.Task;
        }

        private void Loop()
        {
            foreach (var (work, done) in _queue.GetConsumingEnumerable())
            {
                try
                {
                    work();
                    done.SetResult();
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
                // Only a thread that finished its work goes back; one left behind by a stuck run is not reused.
                Idle.Add(this);
            }
        }
    }
}
