package inventory

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// What WTSQuerySessionInformationW (wtsapi32.h) returns comes with its length
// in bytes, so sessions_windows.go copies it out and the decoding here works
// on byte slices, on every OS.

// WTS_INFO_CLASS values asked for.
const (
	wtsUserName           = 5
	wtsDomainName         = 7
	wtsClientName         = 10
	wtsClientProtocolType = 16
	wtsSessionInfo        = 24
)

// wtsProtocolRDP is WTSClientProtocolType's value for a Remote Desktop
// session (0 is the console, 1 Citrix ICA).
const wtsProtocolRDP = 2

// WTSINFOW: eight DWORDs (State, SessionId, byte and frame counters), then
// WCHAR WinStationName[32], Domain[17], UserName[21], then five
// LARGE_INTEGERs aligned to 8 (ConnectTime, DisconnectTime, LastInputTime,
// LogonTime, CurrentTime).
const (
	wtsInfoStationOff = 32
	wtsInfoDomainOff  = wtsInfoStationOff + 2*32
	wtsInfoUserOff    = wtsInfoDomainOff + 2*17
	wtsInfoConnectOff = (wtsInfoUserOff + 2*21 + 7) / 8 * 8
	wtsInfoLogonOff   = wtsInfoConnectOff + 3*8
	wtsInfoSize       = wtsInfoConnectOff + 5*8
)

// wtsInfo is what WTSINFOW says about a session.
type wtsInfo struct {
	state, sessionID      uint32
	station, domain, user string
	logon                 int64 // Unix seconds, 0 unknown
}

// parseWTSInfo decodes a WTSINFOW structure.
func parseWTSInfo(b []byte) (wtsInfo, error) {
	if len(b) < wtsInfoSize {
		return wtsInfo{}, fmt.Errorf("WTSINFOW: %d bytes, want %d", len(b), wtsInfoSize)
	}
	le := binary.LittleEndian
	return wtsInfo{
		state:     le.Uint32(b),
		sessionID: le.Uint32(b[4:]),
		station:   winUTF16(b[wtsInfoStationOff:wtsInfoDomainOff]),
		domain:    winUTF16(b[wtsInfoDomainOff:wtsInfoUserOff]),
		user:      winUTF16(b[wtsInfoUserOff : wtsInfoUserOff+2*21]),
		logon:     winFiletimeUnix(int64(le.Uint64(b[wtsInfoLogonOff:]))),
	}, nil
}

// winFiletimeUnix converts a FILETIME (100 ns since 1601-01-01 UTC) to Unix
// seconds; zero stays zero.
func winFiletimeUnix(ft int64) int64 {
	if ft <= 0 {
		return 0
	}
	return ft/10_000_000 - 11_644_473_600
}

// wtsProtocol decodes WTSClientProtocolType's USHORT.
func wtsProtocol(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

// wtsSession describes the Remote Desktop Services session id. It reports
// false for session 0 (services) and for sessions without a user (the
// listener, a login screen).
func wtsSession(id uint32, user, domain, client string, protocol uint16, logon int64) (wire.Session, bool) {
	if id == 0 || user == "" {
		return wire.Session{}, false
	}
	s := wire.Session{User: user, ID: strconv.FormatUint(uint64(id), 10), Kind: "console", Remote: client, Started: logon}
	if domain != "" {
		s.User = domain + `\` + user
	}
	if protocol == wtsProtocolRDP || client != "" {
		s.Kind = "rdp"
	}
	return s, true
}
