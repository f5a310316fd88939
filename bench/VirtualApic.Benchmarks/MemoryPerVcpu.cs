namespace VirtualApic.Benchmarks;

public static class MemoryPerVcpu { public static int Run() => 0; }
