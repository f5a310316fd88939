// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace VirtualApic.Guest.Tests.Cpu;

/// <summary>
/// The 4-level walk (SDM Vol 3 4.5): P, R/W, U/S and XD at every level combined so that the most restrictive
/// wins (4.6), CR0.WP, SMEP, reserved bits (4.5, tables 4-14..4-20), the #PF error code and CR2 (4.7), and the
/// accessed and dirty flags (4.8), for reads, writes and fetches at CPL 0 and CPL 3.
/// </summary>
public class PageWalkTests
{
    private const ulong L = 0x80_0000_7000; // PML4 slot 1, through TestMachine.MapChain
    private const ulong Frame = 0x250000;
    private const int PageFault = 14, Ud = 6;

    private const ulong P = 1, W = 2, U = 4, Ps = 0x80, Xd = 1UL << 63, Bit46 = 1UL << 46;

    public enum Access
    {
        Read,
        Write,
        Fetch,
    }

    /// <summary>Runs one access to <paramref name="linear"/> at CPL 0 or 3: an access that completes runs into
    /// UD2 (at the target for a fetch), so every run ends in a handler with exact state to check.</summary>
    private static (TestMachine M, ulong At) RunAccess(Access access, bool user, Action<TestMachine> setup, ulong linear = L)
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.Memory.Write(Frame + (linear & 0xFFF), [0x0F, 0x0B]); // UD2 where a fetch lands
        setup(m);
        Action<Assembler> prelude = a => a.mov(rbx, linear);
        Action<Assembler> body = access switch
        {
            Access.Read => a => a.mov(rax, __qword_ptr[rbx]),
            Access.Write => a => a.mov(__qword_ptr[rbx], 0x1234),
            _ => a => a.jmp(rbx),
        };
        ulong at = user ? m.LoadUser(prelude) : m.Load(prelude);
        m.Load(
            a =>
            {
                body(a);
                a.ud2();
            },
            at);
        m.RunToHalt();
        return (m, at);
    }

    // A fetch fault is taken at the target: the jump has completed and the saved RIP is the faulting address.
    private static void AssertPageFault(TestMachine m, Access access, ulong at, ulong errorCode, ulong linear) =>
        AssertPageFault(m, access == Access.Fetch ? linear : at, errorCode, linear);

    private static void AssertPageFault(TestMachine m, ulong rip, ulong errorCode, ulong cr2)
    {
        m.AssertException(PageFault, rip, (long)errorCode);
        Assert.Equal(cr2, m.Cpu.Cr2);
    }

    // The access completed: UD2 after the data access, or UD2 at the fetched target.
    private static void AssertCompleted(TestMachine m, Access access, ulong at)
    {
        ulong udAt = access == Access.Fetch ? L : at + (access == Access.Read ? 3UL : 7UL);
        m.AssertException(Ud, udAt);
    }

    // (level 1 = PTE .. 4 = PML4E, bits cleared there, bits set there, access, CPL 3, CR0.WP, expected error code or -1)
    public static TheoryData<int, ulong, ulong, Access, bool, bool, int> Rights => new()
    {
        // U/S = 0 at any one level makes the page supervisor-only (4.6.1).
        { 4, U, 0, Access.Read, true, true, 0x05 },
        { 3, U, 0, Access.Read, true, true, 0x05 },
        { 2, U, 0, Access.Write, true, true, 0x07 },
        { 1, U, 0, Access.Fetch, true, true, 0x15 },
        { 1, U, 0, Access.Read, false, true, -1 },
        { 1, U, 0, Access.Write, false, true, -1 },
        { 1, U, 0, Access.Fetch, false, true, -1 },

        // R/W = 0 at any one level makes it read-only: always for CPL 3, for CPL 0 only with CR0.WP.
        { 4, W, 0, Access.Write, true, true, 0x07 },
        { 3, W, 0, Access.Write, false, true, 0x03 },
        { 2, W, 0, Access.Write, true, false, 0x07 },
        { 1, W, 0, Access.Write, false, false, -1 },
        { 1, W, 0, Access.Read, true, true, -1 },
        { 2, W, 0, Access.Fetch, true, true, -1 },

        // XD = 1 at any one level forbids fetches (EFER.NXE = 1), at both CPLs, and nothing else.
        { 4, 0, Xd, Access.Fetch, false, true, 0x11 },
        { 3, 0, Xd, Access.Fetch, true, true, 0x15 },
        { 2, 0, Xd, Access.Fetch, false, true, 0x11 },
        { 1, 0, Xd, Access.Fetch, true, true, 0x15 },
        { 1, 0, Xd, Access.Read, true, true, -1 },
        { 3, 0, Xd, Access.Write, false, true, -1 },

        // Not present at any level: P = 0 in the error code, the other bits still describe the access.
        { 4, P, 0, Access.Read, false, true, 0x00 },
        { 3, P, 0, Access.Write, false, true, 0x02 },
        { 2, P, 0, Access.Read, true, true, 0x04 },
        { 1, P, 0, Access.Fetch, false, true, 0x10 },
        { 1, P, 0, Access.Write, true, true, 0x06 },

        // Address bits at or above MAXPHYADDR (46) are reserved at every level: RSVD with P = 1.
        { 4, 0, Bit46, Access.Read, false, true, 0x09 },
        { 3, 0, Bit46, Access.Write, false, true, 0x0B },
        { 2, 0, Bit46, Access.Read, true, true, 0x0D },
        { 1, 0, Bit46, Access.Fetch, false, true, 0x19 },
        { 1, 0, 1UL << 51, Access.Read, false, true, 0x09 },

        // PS is reserved in a PML4E (there are no 512 GiB pages).
        { 4, 0, Ps, Access.Read, false, true, 0x09 },
        { 4, 0, Ps, Access.Write, true, true, 0x0F },

        // A reserved bit is reported even where the rights would also forbid the access.
        { 1, U, Bit46, Access.Read, true, true, 0x0D },
    };

    [Theory]
    [MemberData(nameof(Rights))]
    public void Each_level_restricts_the_access_and_the_fault_reports_it(int level, ulong clear, ulong set, Access access, bool user, bool wp, int expected)
    {
        var (m, at) = RunAccess(access, user, m =>
        {
            m.MapChain(L, Frame);
            ulong entry = TestMachine.ChainEntry(level, L);
            m.Memory.WriteUInt64(entry, (m.Memory.ReadUInt64(entry) & ~clear) | set);
            if (!wp)
            {
                m.Cpu.SetControlRegisters(0x80000031, TestMachine.Pml4, 0x20, 0x900);
            }
        });
        if (expected < 0)
        {
            AssertCompleted(m, access, at);
        }
        else
        {
            AssertPageFault(m, access, at, (ulong)expected, L);
        }
    }

    [Fact]
    public void Xd_at_two_levels_still_forbids_the_fetch()
    {
        var (m, at) = RunAccess(Access.Fetch, false, m => m.MapChain(L, Frame, pde: 7 | Xd, pte: 7 | Xd));
        AssertPageFault(m, Access.Fetch, at, 0x11, L);
    }

    [Theory]
    [InlineData(4, Access.Read, 0x09UL)]
    [InlineData(1, Access.Fetch, 0x09UL)] // no I/D: neither NXE nor SMEP
    [InlineData(2, Access.Write, 0x0BUL)]
    public void Bit_63_without_EFER_NXE_is_reserved_at_every_level(int level, Access access, ulong expected)
    {
        var (m, at) = RunAccess(access, false, m =>
        {
            m.Cpu.SetControlRegisters(0x80010031, TestMachine.Pml4, 0x20, 0x100);
            m.MapChain(L, Frame);
            ulong entry = TestMachine.ChainEntry(level, L);
            m.Memory.WriteUInt64(entry, m.Memory.ReadUInt64(entry) | Xd);
        });
        AssertPageFault(m, access, at, expected, L);
    }

    [Fact]
    public void A_smaller_MAXPHYADDR_makes_more_address_bits_reserved()
    {
        var (m, at) = RunAccess(Access.Read, false, m =>
        {
            m.Cpu.MaxPhysicalAddressBits = 40;
            m.MapChain(L, Frame, pte: 7 | (1UL << 40));
        });
        AssertPageFault(m, Access.Read, at, 0x09, L);
    }

    [Theory]
    [InlineData(Access.Fetch, false, 0x20UL, 0x00UL)] // NXE = 0, SMEP = 0: no I/D bit
    [InlineData(Access.Fetch, false, 0x20UL | (1UL << 20), 0x10UL)] // SMEP alone sets I/D
    [InlineData(Access.Read, false, 0x20UL | (1UL << 20), 0x00UL)] // I/D only for fetches
    public void The_instruction_fetch_bit_needs_NXE_or_SMEP(Access access, bool user, ulong cr4, ulong expected)
    {
        var (m, at) = RunAccess(access, user, m =>
        {
            m.Cpu.SetControlRegisters(0x80010031, TestMachine.Pml4, cr4, 0x100);
            m.Memory.WriteUInt64(TestMachine.Pml4, TestMachine.Pdpt | 3); // the code runs from supervisor pages
            m.MapChain(L, Frame, pte: 6); // not present
        });
        AssertPageFault(m, access, at, expected, L);
    }

    [Theory]
    [InlineData(Access.Fetch, 0x11UL)]
    [InlineData(Access.Read, -1L)] // SMEP is about fetches only (SMAP is not set)
    public void Smep_forbids_supervisor_fetches_from_user_pages(Access access, long expected)
    {
        var (m, at) = RunAccess(access, false, m =>
        {
            m.Cpu.SetControlRegisters(0x80010031, TestMachine.Pml4, 0x20 | (1UL << 20), 0x900);
            m.Memory.WriteUInt64(TestMachine.Pml4, TestMachine.Pdpt | 3); // the code runs from supervisor pages
            m.MapChain(L, Frame);
        });
        if (expected < 0)
        {
            AssertCompleted(m, access, at);
        }
        else
        {
            AssertPageFault(m, access, at, (ulong)expected, L);
        }
    }

    [Theory]
    [InlineData(1UL << 13, 0x09L)] // bits 20:13 of a 2 MiB page's address are reserved
    [InlineData(1UL << 20, 0x09L)]
    [InlineData(1UL << 12, -1L)] // bit 12 is PAT, not an address bit
    public void Two_mib_page_reserved_bits(ulong bit, long expected)
    {
        const ulong Big = 0x80_0020_0000 + 0x1234; // PD index 1 of the chain
        var (m, at) = RunAccess(Access.Read, false, m =>
        {
            m.MapChain(L, Frame);
            m.Memory.WriteUInt64(TestMachine.ChainEntry(2, Big), 0x200000 | Ps | 7 | bit);
            m.Memory.WriteUInt64(0x201234, 0xFEED);
        }, Big);
        if (expected < 0)
        {
            m.AssertException(Ud, at + 3);
            Assert.Equal(0xFEEDUL, m.Reg(0));
        }
        else
        {
            AssertPageFault(m, Access.Read, at, (ulong)expected, Big);
        }
    }

    [Theory]
    [InlineData(1UL << 13, 0x09L)] // bits 29:13 of a 1 GiB page's address are reserved
    [InlineData(1UL << 29, 0x09L)]
    [InlineData(1UL << 12, -1L)]
    public void One_gib_page_reserved_bits(ulong bit, long expected)
    {
        const ulong Big = 0x80_4000_0000 + 0x201234; // PDPT index 1 of the chain
        var (m, at) = RunAccess(Access.Read, false, m =>
        {
            m.MapChain(L, Frame);
            m.Memory.WriteUInt64(TestMachine.ChainEntry(3, Big), 0UL | Ps | 7 | bit);
            m.Memory.WriteUInt64(0x201234, 0xBEEF);
        }, Big);
        if (expected < 0)
        {
            m.AssertException(Ud, at + 3);
            Assert.Equal(0xBEEFUL, m.Reg(0));
        }
        else
        {
            AssertPageFault(m, Access.Read, at, (ulong)expected, Big);
        }
    }

    [Fact]
    public void A_read_sets_accessed_on_every_level_and_dirty_on_none()
    {
        var (m, _) = RunAccess(Access.Read, false, m => m.MapChain(L, Frame));
        for (int level = 4; level >= 1; level--)
        {
            Assert.Equal(0x20UL, m.Memory.ReadUInt64(TestMachine.ChainEntry(level, L)) & 0x60);
        }
    }

    [Fact]
    public void A_write_sets_dirty_on_the_leaf_only()
    {
        var (m, _) = RunAccess(Access.Write, true, m => m.MapChain(L, Frame));
        Assert.Equal(0x1234UL, m.Memory.ReadUInt64(Frame + 0x000));
        Assert.Equal(0x60UL, m.Memory.ReadUInt64(TestMachine.ChainEntry(1, L)) & 0x60);
        for (int level = 4; level >= 2; level--)
        {
            Assert.Equal(0x20UL, m.Memory.ReadUInt64(TestMachine.ChainEntry(level, L)) & 0x60);
        }
    }

    [Fact]
    public void A_write_through_a_two_mib_page_sets_dirty_in_the_pde()
    {
        const ulong Big = 0x80_0020_0000;
        var (m, _) = RunAccess(Access.Write, false, m =>
        {
            m.MapChain(L, Frame);
            m.Memory.WriteUInt64(TestMachine.ChainEntry(2, Big), 0x200000 | Ps | 7);
        }, Big);
        Assert.Equal(0x60UL, m.Memory.ReadUInt64(TestMachine.ChainEntry(2, Big)) & 0x60);
        Assert.Equal(0x20UL, m.Memory.ReadUInt64(TestMachine.ChainEntry(3, Big)) & 0x60);
    }

    [Fact]
    public void A_dirty_flag_already_set_stays_set_on_a_write()
    {
        var (m, _) = RunAccess(Access.Write, false, m => m.MapChain(L, Frame, pte: 7 | 0x60));
        Assert.Equal(Frame | 0x67, m.Memory.ReadUInt64(TestMachine.ChainEntry(1, L)));
    }

    [Theory]
    [InlineData(Access.Write, false, 5UL, 0x03UL)] // read-only leaf, CR0.WP
    [InlineData(Access.Read, true, 3UL, 0x05UL)] // supervisor leaf
    [InlineData(Access.Fetch, false, 7UL | Xd, 0x11UL)]
    public void An_access_that_faults_sets_neither_accessed_nor_dirty_in_the_leaf(Access access, bool user, ulong pte, ulong expected)
    {
        var (m, at) = RunAccess(access, user, m => m.MapChain(L, Frame, pte: pte));
        AssertPageFault(m, access, at, expected, L);
        Assert.Equal(Frame | pte, m.Memory.ReadUInt64(TestMachine.ChainEntry(1, L)));
    }

    [Fact]
    public void Canonical_high_half_addresses_translate_through_the_upper_pml4_slots()
    {
        const ulong High = 0xFFFF_FF80_0025_0010; // PML4 slot 511 -> the identity PDPT
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.Memory.WriteUInt64(TestMachine.Pml4 + (511 * 8), TestMachine.Pdpt | 7);
        m.Memory.WriteUInt64(Frame + 0x10, 0x5151);
        m.Load(a =>
        {
            a.mov(rbx, High);
            a.mov(rax, __qword_ptr[rbx]);
            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(-1, m.HaltedInVector);
        Assert.Equal(0x5151UL, m.Reg(0));
    }

    // ---- accesses that straddle a page boundary ----

    [Theory]
    [InlineData(Access.Read, 0x00UL)]
    [InlineData(Access.Write, 0x02UL)]
    public void A_straddling_access_into_an_absent_page_faults_naming_that_pages_first_byte(Access access, ulong expected)
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.MapChain(L, Frame);
        m.Memory.WriteUInt64(Frame + 0xFF8, 0x1111_1111_1111_1111);
        ulong at = m.Load(a => a.mov(rbx, L + 0xFFC));
        m.Load(
            a =>
            {
                if (access == Access.Read)
                {
                    a.mov(rax, __qword_ptr[rbx]);
                }
                else
                {
                    a.mov(__qword_ptr[rbx], -1);
                }

                a.hlt();
            },
            at);
        m.RunToHalt();
        AssertPageFault(m, at, expected, L + 0x1000);
        Assert.Equal(0x1111_1111_1111_1111UL, m.Memory.ReadUInt64(Frame + 0xFF8)); // nothing written
    }

    [Fact]
    public void A_straddling_write_into_a_read_only_page_writes_neither_page()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.MapChain(L, Frame);
        m.Memory.WriteUInt64(TestMachine.ChainEntry(1, L + 0x1000), 0x260000 | 5);
        ulong at = m.Load(a => a.mov(rbx, L + 0xFFE));
        m.Load(
            a =>
            {
                a.mov(__dword_ptr[rbx], -1);
                a.hlt();
            },
            at);
        m.RunToHalt();
        AssertPageFault(m, at, 0x03, L + 0x1000);
        Assert.Equal(0UL, m.Memory.ReadUInt64(Frame + 0xFF8));
        Assert.Equal(0UL, m.Memory.ReadUInt64(0x260000));
    }

    [Fact]
    public void A_straddling_read_modify_write_reports_a_write_fault_on_the_second_page()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.MapChain(L, Frame);
        ulong at = m.Load(a => a.mov(rbx, L + 0xFFC));
        m.Load(
            a =>
            {
                a.add(__qword_ptr[rbx], 1);
                a.hlt();
            },
            at);
        m.RunToHalt();
        AssertPageFault(m, at, 0x02, L + 0x1000);
    }

    [Fact]
    public void A_straddling_access_whose_first_page_faults_names_its_first_byte()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.MapChain(L + 0x1000, 0x260000);
        m.Memory.WriteUInt64(TestMachine.ChainEntry(1, L), 0); // the first page is absent
        ulong at = m.Load(a => a.mov(rbx, L + 0xFFC));
        m.Load(
            a =>
            {
                a.mov(rax, __qword_ptr[rbx]);
                a.hlt();
            },
            at);
        m.RunToHalt();
        AssertPageFault(m, at, 0x00, L + 0xFFC);
    }

    [Fact]
    public void An_instruction_that_straddles_into_an_absent_page_faults_as_a_fetch_at_that_page()
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.MapChain(L, Frame);
        m.Memory.Write(Frame + 0xFFE, [0xB8, 0x01]); // mov eax, imm32: the immediate continues on the next page
        m.Load(a =>
        {
            a.mov(rbx, L + 0xFFE);
            a.jmp(rbx);
        });
        m.RunToHalt();
        AssertPageFault(m, L + 0xFFE, 0x10, L + 0x1000);
    }

    [Theory]
    [InlineData(Access.Read)]
    [InlineData(Access.Write)]
    public void An_access_ending_at_the_last_byte_of_a_page_does_not_touch_the_next(Access access)
    {
        var m = new TestMachine();
        m.HaltOnExceptions();
        m.MapChain(L, Frame);
        m.Memory.WriteUInt64(Frame + 0xFF8, 0x0102_0304_0506_0708);
        m.Load(a =>
        {
            a.mov(rbx, L + 0xFF8);
            if (access == Access.Read)
            {
                a.mov(rax, __qword_ptr[rbx]);
            }
            else
            {
                a.mov(__dword_ptr[rbx + 4], 0x0A0B0C0D); // a plain write
                a.add(__qword_ptr[rbx], 1); // and a read-modify-write, which probes for writing too
            }

            a.hlt();
        });
        m.RunToHalt();
        Assert.Equal(-1, m.HaltedInVector);
        if (access == Access.Read)
        {
            Assert.Equal(0x0102_0304_0506_0708UL, m.Reg(0));
        }
        else
        {
            Assert.Equal(0x0A0B_0C0D_0506_0709UL, m.Memory.ReadUInt64(Frame + 0xFF8));
        }
    }
}
