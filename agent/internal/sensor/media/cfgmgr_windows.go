package media

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The configuration manager (cfgmgr32.dll): device notifications
// (CM_Register_Notification, Windows 8 and later) and the device tree.
// What is not wrapped by x/sys/windows is called through LazyProc here; each
// call is a thin function, the decisions are in instanceid.go and
// winevents.go.

var (
	winCfgmgr32                     = windows.NewLazySystemDLL("cfgmgr32.dll")
	winCMRegisterNotification       = winCfgmgr32.NewProc("CM_Register_Notification")
	winCMUnregisterNotification     = winCfgmgr32.NewProc("CM_Unregister_Notification")
	winCMLocateDevNode              = winCfgmgr32.NewProc("CM_Locate_DevNodeW")
	winCMGetParent                  = winCfgmgr32.NewProc("CM_Get_Parent")
	winCMGetChild                   = winCfgmgr32.NewProc("CM_Get_Child")
	winCMGetSibling                 = winCfgmgr32.NewProc("CM_Get_Sibling")
	winCMGetDeviceID                = winCfgmgr32.NewProc("CM_Get_Device_IDW")
	winCMGetDevNodeRegistryProperty = winCfgmgr32.NewProc("CM_Get_DevNode_Registry_PropertyW")
	winCMGetDevNodeProperty         = winCfgmgr32.NewProc("CM_Get_DevNode_PropertyW")
)

// winCMNotifyFilter is a CM_NOTIFY_FILTER (cfgmgr32.h; see
// https://learn.microsoft.com/en-us/windows/win32/api/cfgmgr32/ns-cfgmgr32-cm_notify_filter):
// cbSize, Flags, FilterType, Reserved (DWORDs at 0, 4, 8, 12), then the
// union u at 16, whose largest member is DeviceInstance.InstanceId, WCHAR
// [MAX_DEVICE_ID_LEN] = 400 bytes (the others: DeviceInterface.ClassGuid, a
// 16-byte GUID; DeviceHandle.hTarget, a HANDLE, which aligns the union to 8
// on 64-bit Windows). 16 + 400 = 416 bytes on x86, x64 and arm64 alike;
// cbSize must say so.
type winCMNotifyFilter struct {
	cbSize     uint32
	flags      uint32
	filterType uint32
	reserved   uint32
	u          [50]uint64 // 400 bytes, 8-aligned like the union
}

const winCMNotifyFilterSize = 416

// The filter's size is checked when compiling.
var _ [winCMNotifyFilterSize]byte = [unsafe.Sizeof(winCMNotifyFilter{})]byte{}

// CM_NOTIFY_FILTER_FLAG_ALL_DEVICE_INSTANCES: every device node, with an
// empty u.DeviceInstance.InstanceId.
const winNotifyAllInstances = 0x2

// winNotifyEventMax bounds the CM_NOTIFY_EVENT_DATA copied: a header, a GUID
// and a symbolic link far longer than any seen.
const winNotifyEventMax = 8 << 10

// winRaw is one notification as the callback copied it.
type winRaw struct {
	action uint32
	data   []byte // the CM_NOTIFY_EVENT_DATA, EventDataSize bytes
	at     time.Time
}

// winSink is where the callback hands the notifications of one
// registration set to the goroutine that reads them.
type winSink struct {
	ch      chan winRaw
	dropped atomic.Uint64 // notifications dropped because ch was full
}

var (
	// winSinks maps the context value given to CM_Register_Notification
	// (a number, never a Go pointer) to its sink.
	winSinks  sync.Map
	winSinkID atomic.Uintptr
	// winNotifyCallback is the callback's function pointer, made once:
	// windows.NewCallback's pointers are never freed.
	winNotifyCallback = sync.OnceValue(func() uintptr { return windows.NewCallback(winOnNotify) })
)

// winOnNotify is the CM_NOTIFY_CALLBACK (cfgmgr32.h):
//
//	DWORD CALLBACK (HCMNOTIFICATION hNotify, PVOID Context,
//	    CM_NOTIFY_ACTION Action, PCM_NOTIFY_EVENT_DATA EventData,
//	    DWORD EventDataSize)
//
// Windows calls it on a thread-pool thread, possibly several at once. It
// only copies the event data and hands it on without ever blocking (a full
// queue drops the notification and counts it); it returns ERROR_SUCCESS.
// The DWORD parameters are uint32 so that only their low 32 bits are read.
func winOnNotify(notify uintptr, context uintptr, action uint32, data *byte, size uint32) uintptr {
	v, ok := winSinks.Load(context)
	if !ok || data == nil || size == 0 {
		return uintptr(windows.ERROR_SUCCESS)
	}
	s := v.(*winSink)
	b := make([]byte, min(size, winNotifyEventMax))
	copy(b, unsafe.Slice(data, len(b)))
	select {
	case s.ch <- winRaw{action: action, data: b, at: time.Now()}:
	default:
		s.dropped.Add(1)
	}
	return uintptr(windows.ERROR_SUCCESS)
}

// winNotifications is one set of registrations: the watched interface
// classes and every device node.
type winNotifications struct {
	sink    *winSink
	id      uintptr
	handles []uintptr // HCMNOTIFICATION
}

// winListen registers for the arrival and removal of USB devices, disks,
// CD-ROM drives and volumes, and for device nodes appearing and leaving.
func winListen() (*winNotifications, error) {
	if err := winCMRegisterNotification.Find(); err != nil {
		return nil, fmt.Errorf("device notifications need Windows 8 or later: %w", err)
	}
	n := &winNotifications{sink: &winSink{ch: make(chan winRaw, 1024)}, id: winSinkID.Add(1)}
	winSinks.Store(n.id, n.sink)
	for _, w := range winIfaces {
		f := winCMNotifyFilter{cbSize: winCMNotifyFilterSize, filterType: winFilterInterface}
		*(*windows.GUID)(unsafe.Pointer(&f.u[0])) = windows.GUID(w.guid)
		if err := n.register(&f); err != nil {
			n.close()
			return nil, fmt.Errorf("register for device interface %v: %w", windows.GUID(w.guid), err)
		}
	}
	f := winCMNotifyFilter{cbSize: winCMNotifyFilterSize, flags: winNotifyAllInstances, filterType: winFilterInstance}
	if err := n.register(&f); err != nil {
		n.close()
		return nil, fmt.Errorf("register for device nodes: %w", err)
	}
	return n, nil
}

// register calls CM_Register_Notification(pFilter, pContext, pCallback,
// pNotifyContext).
func (n *winNotifications) register(f *winCMNotifyFilter) error {
	var h uintptr
	r, _, _ := winCMRegisterNotification.Call(uintptr(unsafe.Pointer(f)), n.id, winNotifyCallback(), uintptr(unsafe.Pointer(&h)))
	if cr := windows.CONFIGRET(r); cr != windows.CR_SUCCESS {
		return cr
	}
	n.handles = append(n.handles, h)
	return nil
}

// close unregisters. CM_Unregister_Notification waits for callbacks under
// way, so no callback runs for this set afterwards; it must never be called
// from a callback.
func (n *winNotifications) close() {
	for _, h := range n.handles {
		winCMUnregisterNotification.Call(h)
	}
	n.handles = nil
	winSinks.Delete(n.id)
}

// Device tree walks and node properties.

// CM_LOCATE_DEVNODE_NORMAL: only a node present in the device tree.
const winLocateNormal = 0

// winLocate returns the device node of a present device instance.
func winLocate(id string) (windows.DEVINST, error) {
	p, err := windows.UTF16PtrFromString(id)
	if err != nil {
		return 0, err
	}
	var dn windows.DEVINST
	r, _, _ := winCMLocateDevNode.Call(uintptr(unsafe.Pointer(&dn)), uintptr(unsafe.Pointer(p)), winLocateNormal)
	if cr := windows.CONFIGRET(r); cr != windows.CR_SUCCESS {
		return 0, fmt.Errorf("locate %s: %w", id, cr)
	}
	return dn, nil
}

// winRelative calls CM_Get_Parent, CM_Get_Child or CM_Get_Sibling.
func winRelative(proc *windows.LazyProc, dn windows.DEVINST) (windows.DEVINST, bool) {
	var out windows.DEVINST
	r, _, _ := proc.Call(uintptr(unsafe.Pointer(&out)), uintptr(dn), 0)
	return out, windows.CONFIGRET(r) == windows.CR_SUCCESS
}

// winChildren lists a node's children.
func winChildren(dn windows.DEVINST) []windows.DEVINST {
	var out []windows.DEVINST
	c, ok := winRelative(winCMGetChild, dn)
	for ok && len(out) < 64 {
		out = append(out, c)
		c, ok = winRelative(winCMGetSibling, c)
	}
	return out
}

// winDeviceID returns a node's instance id (CM_Get_Device_IDW, whose
// BufferLen counts characters).
func winDeviceID(dn windows.DEVINST) (string, error) {
	buf := make([]uint16, windows.MAX_DEVICE_ID_LEN+1)
	r, _, _ := winCMGetDeviceID.Call(uintptr(dn), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)
	if cr := windows.CONFIGRET(r); cr != windows.CR_SUCCESS {
		return "", cr
	}
	return windows.UTF16ToString(buf), nil
}

// CM_DRP_… properties (cfgmgr32.h; each is the SPDRP_… value plus one).
const (
	winDRPCompatibleIDs = 0x03 // CM_DRP_COMPATIBLEIDS, REG_MULTI_SZ
	winDRPFriendlyName  = 0x0d // CM_DRP_FRIENDLYNAME, REG_SZ
	winDRPRemovalPolicy = 0x20 // CM_DRP_REMOVAL_POLICY, REG_DWORD
)

// winRegistryProperty reads a node's registry property with
// CM_Get_DevNode_Registry_PropertyW (pulLength counts bytes; CR_BUFFER_SMALL
// says the size needed).
func winRegistryProperty(dn windows.DEVINST, prop uint32) ([]byte, error) {
	size := uint32(256)
	for range 4 {
		buf := make([]byte, size)
		var typ uint32
		n := size
		r, _, _ := winCMGetDevNodeRegistryProperty.Call(uintptr(dn), uintptr(prop), uintptr(unsafe.Pointer(&typ)),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch cr := windows.CONFIGRET(r); {
		case cr == windows.CR_SUCCESS:
			return buf[:min(n, size)], nil
		case cr == windows.CR_BUFFER_SMALL && n > size && n <= 64<<10:
			size = n
		default:
			return nil, cr
		}
	}
	return nil, errors.New("property keeps growing")
}

// winDevpkeyBusReportedDeviceDesc is DEVPKEY_Device_BusReportedDeviceDesc
// (devpkey.h): the product string the device reported.
var winDevpkeyBusReportedDeviceDesc = windows.DEVPROPKEY{
	FmtID: windows.DEVPROPGUID{Data1: 0x540b947e, Data2: 0x8b40, Data3: 0x45bc, Data4: [8]byte{0xa8, 0xa2, 0x6a, 0x0b, 0x89, 0x4c, 0xbd, 0xa2}},
	PID:   4,
}

// winStringProperty reads a DEVPROP_TYPE_STRING property with
// CM_Get_DevNode_PropertyW.
func winStringProperty(dn windows.DEVINST, key *windows.DEVPROPKEY) string {
	buf := make([]byte, 512)
	var typ windows.DEVPROPTYPE
	n := uint32(len(buf))
	r, _, _ := winCMGetDevNodeProperty.Call(uintptr(dn), uintptr(unsafe.Pointer(key)), uintptr(unsafe.Pointer(&typ)),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	if windows.CONFIGRET(r) != windows.CR_SUCCESS || typ != windows.DEVPROP_TYPE_STRING {
		return ""
	}
	return strings.TrimSpace(winUTF16(buf[:min(int(n), len(buf))]))
}

// winNodeFacts reads what a node says of itself.
func winNodeFacts(dn windows.DEVINST) winNode {
	n := winNode{}
	n.ID, _ = winDeviceID(dn)
	if b, err := winRegistryProperty(dn, winDRPCompatibleIDs); err == nil {
		n.CompatibleIDs = winMultiSZ(b)
	}
	if b, err := winRegistryProperty(dn, winDRPFriendlyName); err == nil {
		n.FriendlyName = strings.TrimSpace(winUTF16(b))
	}
	if b, err := winRegistryProperty(dn, winDRPRemovalPolicy); err == nil && len(b) >= 4 {
		n.RemovalPolicy = uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	}
	n.BusReported = winStringProperty(dn, &winDevpkeyBusReportedDeviceDesc)
	return n
}

// winNodeChain reads a node and its parents up to (not including) the root
// of the device tree (HTREE\ROOT\0).
func winNodeChain(dn windows.DEVINST) []winNode {
	var chain []winNode
	for range 32 {
		n := winNodeFacts(dn)
		if n.ID == "" || strings.HasPrefix(strings.ToUpper(n.ID), `HTREE\ROOT`) {
			break
		}
		chain = append(chain, n)
		parent, ok := winRelative(winCMGetParent, dn)
		if !ok {
			break
		}
		dn = parent
	}
	return chain
}

// Device node status bits and problems (cfg.h).
const winProblemDisabled = 0x16 // CM_PROB_DISABLED

// winNodeStatus returns a node's status bits and problem (CM_Get_DevNode_Status).
func winNodeStatus(dn windows.DEVINST) (status, problem uint32, err error) {
	err = windows.CM_Get_DevNode_Status(&status, &problem, dn, 0)
	return status, problem, err
}

// winPresent reports whether a device instance is in the device tree and
// not being removed; a disabled node is present.
func winPresent(id string) bool {
	dn, err := winLocate(id)
	if err != nil {
		return false
	}
	st, _, err := winNodeStatus(dn)
	return err != nil || st&windows.DN_WILL_BE_REMOVED == 0
}

// winDisabled reports whether a node is disabled.
func winDisabled(dn windows.DEVINST) bool {
	st, prob, err := winNodeStatus(dn)
	return err == nil && st&windows.DN_HAS_PROBLEM != 0 && prob == winProblemDisabled
}
