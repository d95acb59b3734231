package uevent

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// kernelGroup is the multicast group the kernel sends uevents to (udev
// re-broadcasts processed events on group 2, which we do not want).
const kernelGroup = 1

// Listener receives kernel uevents.
type Listener struct {
	fd int
}

// Listen opens the uevent socket. It needs no privilege to receive.
func Listen() (*Listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("open uevent socket: %w", err)
	}
	// A burst (a hub with many devices) must not overflow the queue; the
	// forced size needs CAP_NET_ADMIN, the plain one is tried after it.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: kernelGroup}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind uevent socket: %w", err)
	}
	return &Listener{fd: fd}, nil
}

// Next blocks until the next kernel uevent or until ctx is done. Messages that
// are not from the kernel (sender pid not 0) or do not parse are skipped.
func (l *Listener) Next(ctx context.Context) (Event, error) {
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return Event{}, err
		}
		// Poll with a short timeout so that ctx cancellation is noticed.
		fds := []unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 200)
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return Event{}, fmt.Errorf("poll uevent socket: %w", err)
		}
		m, from, err := unix.Recvfrom(l.fd, buf, 0)
		if errors.Is(err, unix.ENOBUFS) {
			return Event{}, fmt.Errorf("uevent queue overflowed; rescan sysfs: %w", err)
		}
		if err != nil {
			return Event{}, fmt.Errorf("receive uevent: %w", os.NewSyscallError("recvfrom", err))
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // only the kernel (pid 0) is trusted
		}
		ev, err := Parse(buf[:m])
		if err != nil {
			continue
		}
		return ev, nil
	}
}

// Close closes the socket.
func (l *Listener) Close() error { return unix.Close(l.fd) }
