package inventory

import (
	"encoding/binary"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// winDump is a buffer as a netapi32 function hands it out, placed at address
// base: the array of structures first, then the strings and SIDs their
// pointers point at. The tests build such buffers from the layouts that
// lmaccess.h documents (no Windows machine was at hand to record real ones)
// and decode them through winMemory, as accounts_windows.go decodes the live
// buffers.
type winDump struct {
	b       []byte
	base    uint64
	ptrSize int
}

var _ winMemory = (*winDump)(nil)

// newWinDump starts a buffer of arrayBytes of structures at base (cut to an
// address a 32-bit process can have when ptrSize is 4).
func newWinDump(ptrSize int, base uint64, arrayBytes int) *winDump {
	if ptrSize == 4 {
		base &= 0x7fff_f000
	}
	return &winDump{b: make([]byte, arrayBytes), base: base, ptrSize: ptrSize}
}

func (d *winDump) dword(off uintptr) uint32 { return binary.LittleEndian.Uint32(d.b[off:]) }

func (d *winDump) ptr(off uintptr) uint64 {
	if d.ptrSize == 8 {
		return binary.LittleEndian.Uint64(d.b[off:])
	}
	return uint64(binary.LittleEndian.Uint32(d.b[off:]))
}

func (d *winDump) str(off uintptr) string {
	p := d.ptr(off)
	if p == 0 {
		return ""
	}
	return winUTF16(d.b[p-d.base:])
}

func (d *winDump) sid(off uintptr) string {
	p := d.ptr(off)
	if p == 0 {
		return ""
	}
	s, err := winFormatSID(d.b[p-d.base:])
	if err != nil {
		return "bad: " + err.Error()
	}
	return s
}

func (d *winDump) putDWORD(off int, v uint32) { binary.LittleEndian.PutUint32(d.b[off:], v) }

// putData appends data (aligned to 4, as the heap would) and stores its
// address in the pointer field at off.
func (d *winDump) putData(off int, data []byte) {
	for len(d.b)%4 != 0 {
		d.b = append(d.b, 0)
	}
	addr := d.base + uint64(len(d.b))
	d.b = append(d.b, data...)
	if d.ptrSize == 8 {
		binary.LittleEndian.PutUint64(d.b[off:], addr)
	} else {
		binary.LittleEndian.PutUint32(d.b[off:], uint32(addr))
	}
}

func (d *winDump) putStr(off int, s string) {
	var b []byte
	for _, c := range utf16.Encode([]rune(s + "\x00")) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	d.putData(off, b)
}

// sidBytes encodes a SID string the way winnt.h lays a SID out.
func sidBytes(t *testing.T, s string) []byte {
	t.Helper()
	parts := strings.Split(s, "-")
	if len(parts) < 3 || parts[0] != "S" {
		t.Fatalf("sidBytes(%q): not a SID", s)
	}
	rev, err1 := strconv.ParseUint(parts[1], 10, 8)
	auth, err2 := strconv.ParseUint(parts[2], 10, 48)
	if err1 != nil || err2 != nil {
		t.Fatalf("sidBytes(%q): %v %v", s, err1, err2)
	}
	b := []byte{byte(rev), byte(len(parts) - 3)}
	for i := 5; i >= 0; i-- {
		b = append(b, byte(auth>>(8*i)))
	}
	for _, p := range parts[3:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			t.Fatalf("sidBytes(%q): %v", s, err)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// The offsets below are worked out by hand from the declarations in
// lmaccess.h (LPWSTR and PBYTE are pointers, DWORD and SID_NAME_USE 4 bytes),
// independently of newWinStruct.
var (
	// field index → offset, and size, for 64-bit and 32-bit Windows.
	userInfo3Off64 = map[int]uintptr{ui3Name: 0, 1: 8, 2: 16, ui3Priv: 20, ui3HomeDir: 24, 5: 32, ui3Flags: 40, 7: 48, 8: 56,
		ui3FullName: 64, 13: 96, ui3AcctExpires: 104, 17: 112, 18: 120, 19: 128, 21: 136, ui3UserID: 152, 25: 156, 26: 160, 28: 176}
	userInfo3Off32 = map[int]uintptr{ui3Name: 0, ui3Priv: 12, ui3HomeDir: 16, ui3Flags: 24, ui3FullName: 36,
		ui3AcctExpires: 60, 18: 72, ui3UserID: 96, 28: 112}
)

func TestWinStructLayout(t *testing.T) {
	tests := []struct {
		name    string
		fields  []winField
		ptrSize uintptr
		off     map[int]uintptr
		size    uintptr
	}{
		{"USER_INFO_3/64", userInfo3, 8, userInfo3Off64, 184},
		{"USER_INFO_3/32", userInfo3, 4, userInfo3Off32, 116},
		{"LOCALGROUP_INFO_1/64", localGroupInfo1, 8, map[int]uintptr{0: 0, 1: 8}, 16},
		{"LOCALGROUP_INFO_1/32", localGroupInfo1, 4, map[int]uintptr{0: 0, 1: 4}, 8},
		// The DWORD between two pointers is padded to 8 on 64-bit.
		{"LOCALGROUP_MEMBERS_INFO_2/64", localGroupMembersInfo2, 8, map[int]uintptr{0: 0, 1: 8, 2: 16}, 24},
		{"LOCALGROUP_MEMBERS_INFO_2/32", localGroupMembersInfo2, 4, map[int]uintptr{0: 0, 1: 4, 2: 8}, 12},
		// A trailing DWORD after pointers pads the structure.
		{"ptr,dword/64", []winField{winPtr, winDWORD}, 8, map[int]uintptr{1: 8}, 16},
		{"dword,dword/64", []winField{winDWORD, winDWORD}, 8, map[int]uintptr{1: 4}, 8},
	}
	for _, tt := range tests {
		l := newWinStruct(tt.ptrSize, tt.fields...)
		if l.size != tt.size {
			t.Errorf("%s: size = %d, want %d", tt.name, l.size, tt.size)
		}
		for i, want := range tt.off {
			if l.off[i] != want {
				t.Errorf("%s: field %d at %d, want %d", tt.name, i, l.off[i], want)
			}
		}
	}
}

// netUserRecord is one USER_INFO_3 to lay out in a dump.
type netUserRecord struct {
	name, fullName, home         string
	priv, flags, rid, acctExpire uint32
}

// userEnumDump lays out what NetUserEnum(level 3) returns for users.
func userEnumDump(ptrSize int, users []netUserRecord) *winDump {
	off, size := userInfo3Off64, 184
	if ptrSize == 4 {
		off, size = userInfo3Off32, 116
	}
	d := newWinDump(ptrSize, 0x1f3a0e20000, len(users)*size)
	for i, u := range users {
		at := func(f int) int { return i*size + int(off[f]) }
		d.putStr(at(ui3Name), u.name)
		if u.fullName != "" {
			d.putStr(at(ui3FullName), u.fullName)
		}
		if u.home != "" {
			d.putStr(at(ui3HomeDir), u.home)
		}
		d.putDWORD(at(ui3Priv), u.priv)
		d.putDWORD(at(ui3Flags), u.flags)
		d.putDWORD(at(ui3UserID), u.rid)
		d.putDWORD(at(ui3AcctExpires), u.acctExpire)
		d.putDWORD(at(28), 0)
	}
	return d
}

// memberDump lays out what NetLocalGroupGetMembers(level 2) returns.
func memberDump(t *testing.T, ptrSize int, members []netMember) *winDump {
	size, useOff, nameOff := 24, 8, 16
	if ptrSize == 4 {
		size, useOff, nameOff = 12, 4, 8
	}
	d := newWinDump(ptrSize, 0x1f3a0e90000, len(members)*size)
	for i, m := range members {
		d.putData(i*size, sidBytes(t, m.sid))
		d.putDWORD(i*size+useOff, m.use)
		if m.name != "" {
			d.putStr(i*size+nameOff, m.name)
		}
	}
	return d
}

const (
	machineSID = "S-1-5-21-3623811015-3361044348-30300820"
	domainSID  = "S-1-5-21-1004336348-1177238915-682003330"
)

// A workstation's accounts as NetUserEnum lists them: the built-in accounts
// of Windows 10/11 (Administrator disabled by default) and three people.
var workstationUsers = []netUserRecord{
	{name: "Administrator", priv: winUserPrivAdmin, flags: 0x10203, rid: 500, acctExpire: winTimeqForever},
	{name: "DefaultAccount", priv: 0, flags: 0x10223, rid: 503, acctExpire: winTimeqForever},
	{name: "Guest", priv: 0, flags: 0x10223, rid: 501, acctExpire: winTimeqForever},
	{name: "WDAGUtilityAccount", priv: 1, flags: 0x10203, rid: 504, acctExpire: winTimeqForever},
	{name: "alice", fullName: "Alice Martin", priv: 1, flags: 0x10201, rid: 1001, acctExpire: winTimeqForever},
	{name: "jürgen", fullName: "Jürgen Weiß", home: `\\files\home\jw`, priv: 1, flags: 0x201, rid: 1002, acctExpire: 1767225600}, // expired 2026-01-01
	{name: "kiosk", priv: 1, flags: 0x201, rid: 1003, acctExpire: 1893456000},                                                    // expires 2030
}

// The members of Administrators on the same machine.
var workstationAdmins = []netMember{
	{sid: machineSID + "-500", use: 1, name: `WS-0142\Administrator`},
	{sid: domainSID + "-512", use: 2, name: `CORP\Domain Admins`},
	{sid: machineSID + "-1001", use: 1, name: `WS-0142\alice`},
	{sid: machineSID + "-1010", use: 6}, // a deleted account: no name
}

func TestDecodeNetapi(t *testing.T) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	want := []wire.User{
		{Name: "Administrator", ID: machineSID + "-500", Disabled: true, Admin: true},
		{Name: "DefaultAccount", ID: machineSID + "-503", Disabled: true, System: true},
		{Name: "Guest", ID: machineSID + "-501", Disabled: true, System: true},
		{Name: "WDAGUtilityAccount", ID: machineSID + "-504", Disabled: true, System: true},
		{Name: "alice", ID: machineSID + "-1001", FullName: "Alice Martin", Admin: true},
		{Name: "jürgen", ID: machineSID + "-1002", FullName: "Jürgen Weiß", Home: `\\files\home\jw`, Disabled: true},
		{Name: "kiosk", ID: machineSID + "-1003"},
	}
	wantGroup := wire.Group{Name: "Administrators", ID: winAdministratorsSID, Members: []string{
		`WS-0142\Administrator`, `CORP\Domain Admins`, `WS-0142\alice`, machineSID + "-1010"}}
	for _, ptrSize := range []int{8, 4} {
		users := decodeUserInfo3(userEnumDump(ptrSize, workstationUsers), uintptr(ptrSize), len(workstationUsers))
		members := decodeLocalGroupMembersInfo2(memberDump(t, ptrSize, workstationAdmins), uintptr(ptrSize), len(workstationAdmins))
		if !reflect.DeepEqual(members, workstationAdmins) {
			t.Errorf("ptr %d: decodeLocalGroupMembersInfo2 = %+v, want %+v", ptrSize, members, workstationAdmins)
		}
		admins := winSIDSet(members)
		var got []wire.User
		for _, u := range users {
			sid := machineSID + "-" + strconv.FormatUint(uint64(u.rid), 10) // what LookupAccountName answers
			got = append(got, winUser(u, sid, admins[sid], now))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ptr %d: users\n%+v\nwant\n%+v", ptrSize, got, want)
		}
		if g := winGroup("Administrators", winAdministratorsSID, members); !reflect.DeepEqual(g, wantGroup) {
			t.Errorf("ptr %d: winGroup = %+v, want %+v", ptrSize, g, wantGroup)
		}
	}
}

func TestDecodeLocalGroupInfo1(t *testing.T) {
	groups := []struct{ name, comment string }{
		{"Administrators", "Administrators have complete and unrestricted access to the computer/domain"},
		{"Remote Desktop Users", "Members in this group are granted the right to logon remotely"},
		{"Benutzer", ""}, // a German Windows
		{"docker-users", "Users of Docker Desktop"},
	}
	for _, ptrSize := range []int{8, 4} {
		d := newWinDump(ptrSize, 0x2b0c4a30000, len(groups)*2*ptrSize)
		for i, g := range groups {
			d.putStr(i*2*ptrSize, g.name)
			if g.comment != "" {
				d.putStr(i*2*ptrSize+ptrSize, g.comment)
			}
		}
		got := decodeLocalGroupInfo1(d, uintptr(ptrSize), len(groups))
		want := []string{"Administrators", "Remote Desktop Users", "Benutzer", "docker-users"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ptr %d: decodeLocalGroupInfo1 = %q, want %q", ptrSize, got, want)
		}
	}
}

func TestWinFormatSID(t *testing.T) {
	tests := []struct {
		b       []byte
		want    string
		wantErr bool
	}{
		// BUILTIN\Administrators as it sits in memory.
		{[]byte{1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 2, 0, 0}, "S-1-5-32-544", false},
		{[]byte{1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, "S-1-1-0", false}, // Everyone
		{[]byte{1, 0, 0, 0, 0, 0, 0, 5}, "S-1-5", false},
		// An identifier authority of 2^32 or more is written in hex.
		{[]byte{1, 1, 0, 1, 0, 0, 0, 0, 7, 0, 0, 0}, "S-1-0x000100000000-7", false},
		{[]byte{1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0}, "", true}, // one sub-authority short
		{[]byte{1, 2, 0}, "", true},
	}
	for _, tt := range tests {
		got, err := winFormatSID(tt.b)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("winFormatSID(% x) = %q, %v; want %q, error %v", tt.b, got, err, tt.want, tt.wantErr)
		}
	}
	for _, s := range []string{machineSID + "-1001", "S-1-5-18", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"} {
		if got, err := winFormatSID(sidBytes(t, s)); got != s || err != nil {
			t.Errorf("winFormatSID(sidBytes(%q)) = %q, %v", s, got, err)
		}
	}
}

func TestWinUserFlags(t *testing.T) {
	now := time.Unix(1768478400, 0) // 2026-01-15 12:00 UTC
	tests := []struct {
		name string
		u    netUser
		want wire.User
	}{
		{"normal", netUser{name: "a", flags: 0x200, priv: 1, rid: 1001, acctExpires: winTimeqForever}, wire.User{Name: "a", ID: "S"}},
		{"disabled flag", netUser{name: "a", flags: 0x202, rid: 1001, acctExpires: winTimeqForever}, wire.User{Name: "a", ID: "S", Disabled: true}},
		{"locked out is not disabled", netUser{name: "a", flags: 0x210, rid: 1001, acctExpires: winTimeqForever}, wire.User{Name: "a", ID: "S"}},
		{"expired", netUser{name: "a", flags: 0x200, rid: 1001, acctExpires: uint32(now.Unix())}, wire.User{Name: "a", ID: "S", Disabled: true}},
		{"expires later", netUser{name: "a", flags: 0x200, rid: 1001, acctExpires: uint32(now.Unix() + 1)}, wire.User{Name: "a", ID: "S"}},
		{"admin by privilege", netUser{name: "a", priv: winUserPrivAdmin, rid: 1001, acctExpires: winTimeqForever}, wire.User{Name: "a", ID: "S", Admin: true}},
		{"built-in Administrator is a person's", netUser{name: "a", rid: 500, acctExpires: winTimeqForever}, wire.User{Name: "a", ID: "S"}},
		{"krbtgt", netUser{name: "a", rid: 502, acctExpires: winTimeqForever}, wire.User{Name: "a", ID: "S", System: true}},
	}
	for _, tt := range tests {
		if got := winUser(tt.u, "S", false, now); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: winUser(%+v) = %+v, want %+v", tt.name, tt.u, got, tt.want)
		}
	}
}
