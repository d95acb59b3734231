package inventory

import "github.com/sonevakt/sonevakt/pkg/wire"

// The users and groups sections: the machine's local accounts. Linux reads
// etc/passwd, etc/group, etc/shadow and etc/login.defs below a root
// (accounts_linux.go); Windows asks the SAM through netapi32 — NetUserEnum,
// NetLocalGroupEnum, NetLocalGroupGetMembers — and not WMI, which hangs on
// domain controllers (accounts_windows.go, with the structure decoding in
// accounts_netapi.go so that it is tested on Linux). Directory accounts (LDAP,
// SSSD, Active Directory users who never had a local account) are not local
// accounts and are not listed.
//
// A user is Admin when it can become the administrator: on Linux uid 0 or a
// member (primary or supplementary) of sudo, wheel or admin; on Windows a
// member of the local Administrators group (S-1-5-32-544, whatever its
// localized name). A user is System when it is a service account rather than a
// person.

func init() {
	addPart(wire.SectionUsers, fillUsers)
	addPart(wire.SectionGroups, fillGroups)
}
