using BenchmarkDotNet.Running;

namespace VirtualApic.Benchmarks;

/// <summary>Entry point: BenchmarkDotNet's switcher, plus a <c>--memory</c> mode.</summary>
public static class Program
{
    /// <summary>Runs the benchmarks selected on the command line (or the memory-per-vCPU measurement).</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--memory")
        {
            return MemoryPerVcpu.Run();
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
