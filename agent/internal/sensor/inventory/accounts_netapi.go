package inventory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Windows hands local accounts out as arrays of C structures (lmaccess.h):
// USER_INFO_3 from NetUserEnum, LOCALGROUP_INFO_1 from NetLocalGroupEnum,
// LOCALGROUP_MEMBERS_INFO_2 from NetLocalGroupGetMembers, whose strings and
// SIDs are pointers into the same buffer. This file decodes them through
// winMemory, field by field at the offsets the documented layout gives, and
// turns them into wire users and groups. It builds on every OS: on Windows
// winMemory is the live buffer (accounts_windows.go); on Linux the tests feed
// it bytes laid out as Windows lays them out (accounts_netapi_test.go).

// winMemory reads the fields of C structures at byte offsets from the start
// of the buffer an API returned.
type winMemory interface {
	// dword returns the DWORD (or enum) at off.
	dword(off uintptr) uint32
	// str returns the NUL-terminated UTF-16 string that the pointer at off
	// points at, "" for NULL.
	str(off uintptr) string
	// sid returns the SID that the pointer at off points at, as S-1-…, ""
	// for NULL.
	sid(off uintptr) string
}

// winField is the C type of a structure field, as far as its size and
// alignment go.
type winField uint8

const (
	winDWORD winField = iota // DWORD, and enums such as SID_NAME_USE
	winPtr                   // LPWSTR, PSID, PBYTE
)

// winStruct is the layout of a C structure: the offset of each field and the
// size of an array element.
type winStruct struct {
	off  []uintptr
	size uintptr
}

// newWinStruct lays fields out in order as MSVC does by default: each field
// aligned to its own size, the structure padded to its largest field. ptrSize
// is 8 on amd64 and arm64, 4 on 386.
func newWinStruct(ptrSize uintptr, fields ...winField) winStruct {
	var s winStruct
	var end, align uintptr = 0, 1
	for _, f := range fields {
		size := uintptr(4)
		if f == winPtr {
			size = ptrSize
		}
		end = (end + size - 1) / size * size
		s.off = append(s.off, end)
		end += size
		align = max(align, size)
	}
	s.size = (end + align - 1) / align * align
	return s
}

// userInfo3 lists the fields of USER_INFO_3 in declaration order; the
// constants below index the ones read.
var userInfo3 = []winField{
	winPtr,   // usri3_name
	winPtr,   // usri3_password
	winDWORD, // usri3_password_age
	winDWORD, // usri3_priv
	winPtr,   // usri3_home_dir
	winPtr,   // usri3_comment
	winDWORD, // usri3_flags
	winPtr,   // usri3_script_path
	winDWORD, // usri3_auth_flags
	winPtr,   // usri3_full_name
	winPtr,   // usri3_usr_comment
	winPtr,   // usri3_parms
	winPtr,   // usri3_workstations
	winDWORD, // usri3_last_logon
	winDWORD, // usri3_last_logoff
	winDWORD, // usri3_acct_expires
	winDWORD, // usri3_max_storage
	winDWORD, // usri3_units_per_week
	winPtr,   // usri3_logon_hours
	winDWORD, // usri3_bad_pw_count
	winDWORD, // usri3_num_logons
	winPtr,   // usri3_logon_server
	winDWORD, // usri3_country_code
	winDWORD, // usri3_code_page
	winDWORD, // usri3_user_id
	winDWORD, // usri3_primary_group_id
	winPtr,   // usri3_profile
	winPtr,   // usri3_home_dir_drive
	winDWORD, // usri3_password_expired
}

const (
	ui3Name        = 0
	ui3Priv        = 3
	ui3HomeDir     = 4
	ui3Flags       = 6
	ui3FullName    = 9
	ui3AcctExpires = 15
	ui3UserID      = 24
)

// localGroupInfo1 is LOCALGROUP_INFO_1: lgrpi1_name, lgrpi1_comment.
var localGroupInfo1 = []winField{winPtr, winPtr}

// localGroupMembersInfo2 is LOCALGROUP_MEMBERS_INFO_2: lgrmi2_sid,
// lgrmi2_sidusage, lgrmi2_domainandname.
var localGroupMembersInfo2 = []winField{winPtr, winDWORD, winPtr}

// Values from lmaccess.h and lmcons.h.
const (
	winUFAccountDisable  = 0x0002     // UF_ACCOUNTDISABLE in usri3_flags
	winUserPrivAdmin     = 2          // USER_PRIV_ADMIN in usri3_priv
	winTimeqForever      = 0xFFFFFFFF // TIMEQ_FOREVER: usri3_acct_expires never
	winAdministratorsSID = "S-1-5-32-544"
)

// netUser is what USER_INFO_3 says about an account.
type netUser struct {
	name, fullName, home string
	flags, priv          uint32
	rid                  uint32 // relative id: the last part of the SID
	acctExpires          uint32 // seconds since 1970, or winTimeqForever
}

// netMember is a member of a local group, from LOCALGROUP_MEMBERS_INFO_2.
type netMember struct {
	sid  string
	use  uint32 // SID_NAME_USE: 1 user, 2 group, 5 well-known group, 6 deleted …
	name string // DOMAIN\name
}

// decodeUserInfo3 reads n USER_INFO_3 structures.
func decodeUserInfo3(m winMemory, ptrSize uintptr, n int) []netUser {
	l := newWinStruct(ptrSize, userInfo3...)
	out := make([]netUser, 0, n)
	for i := range uintptr(n) {
		at := func(f int) uintptr { return i*l.size + l.off[f] }
		out = append(out, netUser{
			name:        m.str(at(ui3Name)),
			fullName:    m.str(at(ui3FullName)),
			home:        m.str(at(ui3HomeDir)),
			flags:       m.dword(at(ui3Flags)),
			priv:        m.dword(at(ui3Priv)),
			rid:         m.dword(at(ui3UserID)),
			acctExpires: m.dword(at(ui3AcctExpires)),
		})
	}
	return out
}

// decodeLocalGroupInfo1 reads the names of n LOCALGROUP_INFO_1 structures.
func decodeLocalGroupInfo1(m winMemory, ptrSize uintptr, n int) []string {
	l := newWinStruct(ptrSize, localGroupInfo1...)
	out := make([]string, 0, n)
	for i := range uintptr(n) {
		out = append(out, m.str(i*l.size+l.off[0]))
	}
	return out
}

// decodeLocalGroupMembersInfo2 reads n LOCALGROUP_MEMBERS_INFO_2 structures.
func decodeLocalGroupMembersInfo2(m winMemory, ptrSize uintptr, n int) []netMember {
	l := newWinStruct(ptrSize, localGroupMembersInfo2...)
	out := make([]netMember, 0, n)
	for i := range uintptr(n) {
		out = append(out, netMember{
			sid:  m.sid(i*l.size + l.off[0]),
			use:  m.dword(i*l.size + l.off[1]),
			name: m.str(i*l.size + l.off[2]),
		})
	}
	return out
}

// winUser turns a SAM account into a wire user. sid is its SID, admin
// whether it is a member of Administrators. The built-in accounts other than
// Administrator (RID 500) — Guest, krbtgt, DefaultAccount,
// WDAGUtilityAccount, RIDs 501 to 999 — are System.
func winUser(u netUser, sid string, admin bool, now time.Time) wire.User {
	expired := u.acctExpires != winTimeqForever && int64(u.acctExpires) <= now.Unix()
	return wire.User{
		Name:     u.name,
		ID:       sid,
		FullName: u.fullName,
		Home:     u.home,
		Disabled: u.flags&winUFAccountDisable != 0 || expired,
		System:   u.rid > 500 && u.rid < 1000,
		Admin:    admin || u.priv == winUserPrivAdmin,
	}
}

// winGroup turns a local group and its members into a wire group. A member
// is named DOMAIN\name; one whose name cannot be told (a deleted account) by
// its SID.
func winGroup(name, sid string, members []netMember) wire.Group {
	g := wire.Group{Name: name, ID: sid}
	for _, m := range members {
		n := m.name
		if n == "" || strings.HasSuffix(n, `\`) {
			n = m.sid
		}
		if n != "" {
			g.Members = append(g.Members, n)
		}
	}
	return g
}

// winSIDSet returns the SIDs of members.
func winSIDSet(members []netMember) map[string]bool {
	s := make(map[string]bool, len(members))
	for _, m := range members {
		if m.sid != "" {
			s[m.sid] = true
		}
	}
	return s
}

// winFormatSID returns the string form of the binary SID at the start of b
// (winnt.h SID: revision, sub-authority count, 48-bit big-endian identifier
// authority, little-endian 32-bit sub-authorities), as ConvertSidToStringSid
// writes it.
func winFormatSID(b []byte) (string, error) {
	if len(b) < 8 {
		return "", errors.New("sid: short header")
	}
	n := int(b[1])
	if len(b) < 8+4*n {
		return "", fmt.Errorf("sid: %d sub-authorities in %d bytes", n, len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var s strings.Builder
	s.WriteString("S-" + strconv.Itoa(int(b[0])) + "-")
	if auth >= 1<<32 {
		fmt.Fprintf(&s, "0x%012X", auth)
	} else {
		s.WriteString(strconv.FormatUint(auth, 10))
	}
	for i := range n {
		s.WriteString("-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return s.String(), nil
}

// winUTF16 decodes little-endian UTF-16 up to the first NUL or the end of b.
func winUTF16(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
