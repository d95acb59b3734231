package inventory

import (
	"bytes"
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

var (
	sessWtsapi32                   = windows.NewLazySystemDLL("wtsapi32.dll")
	sessWTSQuerySessionInformation = sessWtsapi32.NewProc("WTSQuerySessionInformationW")
)

// wtsCurrentServer is WTS_CURRENT_SERVER_HANDLE: this machine.
const wtsCurrentServer = 0

// fillSessions lists the Remote Desktop Services sessions that have a user:
// the console's and every RDP session, connected or disconnected.
func fillSessions(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	if err := sessWTSQuerySessionInformation.Find(); err != nil {
		return err
	}
	var infos *windows.WTS_SESSION_INFO
	var n uint32
	if err := windows.WTSEnumerateSessions(wtsCurrentServer, 0, 1, &infos, &n); err != nil {
		return fmt.Errorf("enumerate sessions: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(infos)))
	for _, si := range unsafe.Slice(infos, n) {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := si.SessionID
		if id == 0 {
			continue
		}
		user, err := wtsQuery(id, wtsUserName)
		if err != nil {
			warn("session %d: user name: %v", id, err)
			continue
		}
		if winUTF16(user) == "" {
			continue
		}
		domain, _ := wtsQuery(id, wtsDomainName)
		client, _ := wtsQuery(id, wtsClientName)
		protocol, _ := wtsQuery(id, wtsClientProtocolType)
		var logon int64
		if b, err := wtsQuery(id, wtsSessionInfo); err == nil {
			if info, err := parseWTSInfo(b); err == nil {
				logon = info.logon
			}
		}
		if s, ok := wtsSession(id, winUTF16(user), winUTF16(domain), winUTF16(client), wtsProtocol(protocol), logon); ok {
			inv.Sessions = append(inv.Sessions, s)
		}
	}
	return nil
}

// wtsQuery returns a copy of what WTSQuerySessionInformationW says about
// session id for class, and frees the API's buffer.
func wtsQuery(id uint32, class uint32) ([]byte, error) {
	var buf *uint16
	var size uint32
	r, _, err := sessWTSQuerySessionInformation.Call(wtsCurrentServer, uintptr(id), uintptr(class),
		uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&size)))
	if r == 0 {
		return nil, err
	}
	if buf == nil {
		return nil, nil
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(buf)), size)), nil
}
