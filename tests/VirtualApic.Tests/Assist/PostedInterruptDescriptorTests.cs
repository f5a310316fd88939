// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using VirtualApic.Assist;
using VirtualApic.Tests.Support;

namespace VirtualApic.Tests.Assist;

/// <summary>
/// The posted-interrupt descriptor's control word (SDM vol. 3C 30.6, Table 30-1): ON bit 0, SN bit 1,
/// NV bits 23:16, NDST bits 63:32; each field is written without disturbing the others, and a post
/// notifies only when its PIR bit is new and ON was clear (KVM <c>__vmx_deliver_posted_interrupt</c>).
/// </summary>
public class PostedInterruptDescriptorTests
{
    [Fact]
    public void Each_control_field_is_written_without_disturbing_the_others()
    {
        var pid = new PostedInterruptDescriptor { Nv = 0xF2, Ndst = 0xFFFF_FFFE };
        Assert.True(pid.Post(0x40)); // ON set
        pid.SuppressNotification = true;
        Assert.True(pid.SuppressNotification);
        Assert.True(pid.OutstandingNotification);
        Assert.Equal(0xF2, pid.Nv);
        Assert.Equal(0xFFFF_FFFEu, pid.Ndst);

        pid.Nv = 0xF1;
        pid.Ndst = 3;
        Assert.Equal(0xF1, pid.Nv);
        Assert.Equal(3u, pid.Ndst);
        Assert.True(pid.SuppressNotification);
        Assert.True(pid.OutstandingNotification);

        pid.SuppressNotification = false;
        Assert.False(pid.SuppressNotification);
        Assert.True(pid.OutstandingNotification);
        Assert.Equal(0xF1, pid.Nv);
        Assert.Equal(3u, pid.Ndst);
    }

    [Fact]
    public void A_post_notifies_once_until_the_pir_is_synced_and_every_word_of_it_is_harvested()
    {
        var apic = TestApic.Create();
        var pid = new PostedInterruptDescriptor();
        Assert.True(pid.Post(0x20));
        Assert.False(pid.Post(0x20)); // the bit was already posted
        Assert.False(pid.Post(0x7F)); // ON already set: no second notification
        Assert.False(pid.Post(0xBF));
        Assert.False(pid.Post(0xFF));
        Assert.Equal(1, pid.Notifications);

        pid.SyncTo(apic);
        Assert.False(pid.OutstandingNotification);
        foreach (int v in new[] { 0x20, 0x7F, 0xBF, 0xFF })
        {
            Assert.True(apic.IrrHas((byte)v), $"vector 0x{v:x2} not synced");
            Assert.False(pid.TestPir(v));
        }

        Assert.True(pid.Post(0x21)); // ON clear again: notifies
        Assert.Equal(2, pid.Notifications);
        pid.Clear();
        Assert.False(pid.TestPir(0x21));
        Assert.Equal(2, pid.Notifications); // clearing ON counts the notification as done
    }
}
