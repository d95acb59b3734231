package inventory

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// netapi32 entry points. Each takes a resume handle and hands back a buffer
// that the caller frees with NetApiBufferFree, even when the call returns
// ERROR_MORE_DATA.
var (
	acctNetapi32                = windows.NewLazySystemDLL("netapi32.dll")
	acctNetUserEnum             = acctNetapi32.NewProc("NetUserEnum")
	acctNetLocalGroupEnum       = acctNetapi32.NewProc("NetLocalGroupEnum")
	acctNetLocalGroupGetMembers = acctNetapi32.NewProc("NetLocalGroupGetMembers")
)

const (
	winFilterNormalAccount = 0x0002     // FILTER_NORMAL_ACCOUNT: people and service accounts, no trust accounts
	winMaxPreferredLength  = 0xFFFFFFFF // MAX_PREFERRED_LENGTH: one buffer as big as needed
	winErrorMoreData       = 234        // ERROR_MORE_DATA
	winPtrSize             = unsafe.Sizeof(uintptr(0))
)

// winLive reads C structures in a buffer that a Windows API returned.
type winLive struct{ p unsafe.Pointer }

var _ winMemory = winLive{}

func (m winLive) dword(off uintptr) uint32 { return *(*uint32)(unsafe.Add(m.p, off)) }

func (m winLive) str(off uintptr) string {
	return windows.UTF16PtrToString(*(**uint16)(unsafe.Add(m.p, off)))
}

func (m winLive) sid(off uintptr) string {
	p := *(**byte)(unsafe.Add(m.p, off))
	if p == nil {
		return ""
	}
	subs := *(*byte)(unsafe.Add(unsafe.Pointer(p), 1)) // SubAuthorityCount
	s, err := winFormatSID(unsafe.Slice(p, 8+4*int(subs)))
	if err != nil {
		return ""
	}
	return s
}

func fillUsers(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	users, err := netUsers(ctx)
	if err != nil {
		return err
	}
	var admins map[string]bool
	if name, err := winAdministratorsName(); err != nil {
		warn("name the Administrators group: %v", err)
	} else if members, err := netGroupMembers(ctx, name); err != nil {
		warn("members of %s: %v", name, err)
	} else {
		admins = winSIDSet(members)
	}
	computer, _ := windows.ComputerName()
	now := time.Now()
	for _, u := range users {
		sid, err := winAccountSID(computer, u.name)
		if err != nil {
			warn("look up the SID of user %s: %v", u.name, err)
		}
		inv.Users = append(inv.Users, winUser(u, sid, admins[sid], now))
	}
	return nil
}

func fillGroups(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	names, err := netLocalGroups(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		var sid string
		if s, _, _, err := windows.LookupSID("", name); err != nil {
			warn("look up the SID of group %s: %v", name, err)
		} else {
			sid = s.String()
		}
		members, err := netGroupMembers(ctx, name)
		if err != nil {
			warn("members of %s: %v", name, err)
		}
		inv.Groups = append(inv.Groups, winGroup(name, sid, members))
	}
	return nil
}

// winAdministratorsName returns the name of BUILTIN\Administrators in the
// language of this Windows (Administratoren, Administrateurs …).
func winAdministratorsName() (string, error) {
	sid, err := windows.StringToSid(winAdministratorsSID)
	if err != nil {
		return "", err
	}
	name, _, _, err := sid.LookupAccount("")
	return name, err
}

// winAccountSID returns the SID of the local account name: asked as
// COMPUTER\name first, so that a domain account of the same name cannot
// answer, then unqualified (on a domain controller the accounts are the
// domain's).
func winAccountSID(computer, name string) (string, error) {
	if computer != "" {
		if s, _, _, err := windows.LookupSID("", computer+`\`+name); err == nil {
			return s.String(), nil
		}
	}
	s, _, _, err := windows.LookupSID("", name)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// netUsers enumerates the SAM's normal accounts at level 3.
func netUsers(ctx context.Context) ([]netUser, error) {
	if err := acctNetUserEnum.Find(); err != nil {
		return nil, err
	}
	var out []netUser
	var resume uint32 // DWORD
	err := netEnum(ctx, "enumerate users", func(buf **byte, read, total *uint32) uintptr {
		r, _, _ := acctNetUserEnum.Call(0, 3, winFilterNormalAccount, uintptr(unsafe.Pointer(buf)), winMaxPreferredLength,
			uintptr(unsafe.Pointer(read)), uintptr(unsafe.Pointer(total)), uintptr(unsafe.Pointer(&resume)))
		return r
	}, func(p unsafe.Pointer, n int) {
		out = append(out, decodeUserInfo3(winLive{p}, winPtrSize, n)...)
	})
	return out, err
}

// netLocalGroups enumerates the names of the local groups at level 1.
func netLocalGroups(ctx context.Context) ([]string, error) {
	if err := acctNetLocalGroupEnum.Find(); err != nil {
		return nil, err
	}
	var out []string
	var resume uintptr // DWORD_PTR
	err := netEnum(ctx, "enumerate local groups", func(buf **byte, read, total *uint32) uintptr {
		r, _, _ := acctNetLocalGroupEnum.Call(0, 1, uintptr(unsafe.Pointer(buf)), winMaxPreferredLength,
			uintptr(unsafe.Pointer(read)), uintptr(unsafe.Pointer(total)), uintptr(unsafe.Pointer(&resume)))
		return r
	}, func(p unsafe.Pointer, n int) {
		out = append(out, decodeLocalGroupInfo1(winLive{p}, winPtrSize, n)...)
	})
	return out, err
}

// netGroupMembers enumerates the members of the local group name at level 2
// (SID, kind, DOMAIN\name).
func netGroupMembers(ctx context.Context, name string) ([]netMember, error) {
	if err := acctNetLocalGroupGetMembers.Find(); err != nil {
		return nil, err
	}
	group, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	var out []netMember
	var resume uintptr // DWORD_PTR
	err = netEnum(ctx, "enumerate members", func(buf **byte, read, total *uint32) uintptr {
		r, _, _ := acctNetLocalGroupGetMembers.Call(0, uintptr(unsafe.Pointer(group)), 2, uintptr(unsafe.Pointer(buf)),
			winMaxPreferredLength, uintptr(unsafe.Pointer(read)), uintptr(unsafe.Pointer(total)), uintptr(unsafe.Pointer(&resume)))
		return r
	}, func(p unsafe.Pointer, n int) {
		out = append(out, decodeLocalGroupMembersInfo2(winLive{p}, winPtrSize, n)...)
	})
	return out, err
}

// netEnum drives a netapi32 enumeration to its end. call makes one call with
// the resume handle it keeps and returns its NET_API_STATUS; decode reads the
// n structures of each buffer before the buffer is freed.
func netEnum(ctx context.Context, what string, call func(buf **byte, read, total *uint32) uintptr, decode func(p unsafe.Pointer, n int)) error {
	for {
		var buf *byte
		var read, total uint32
		status := call(&buf, &read, &total)
		if buf != nil {
			if status == 0 || status == winErrorMoreData {
				decode(unsafe.Pointer(buf), int(read))
			}
			windows.NetApiBufferFree(buf)
		}
		switch {
		case status == 0:
			return nil
		case status != winErrorMoreData:
			return fmt.Errorf("%s: %w", what, windows.Errno(status))
		case read == 0:
			return fmt.Errorf("%s: more data announced, none returned", what)
		case ctx.Err() != nil:
			return ctx.Err()
		}
	}
}
