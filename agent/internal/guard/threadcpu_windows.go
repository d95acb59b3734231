package guard

import (
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetThreadTimes = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetThreadTimes")

// threadCPU returns the CPU time (user and kernel) of the calling OS thread.
// Windows counts it in clock ticks of about 15.6 ms, which is fine for
// rounds that matter.
func threadCPU() (time.Duration, bool) {
	if procGetThreadTimes.Find() != nil {
		return 0, false
	}
	h, err := windows.GetCurrentThread()
	if err != nil {
		return 0, false
	}
	var creation, exit, kernel, user windows.Filetime
	r, _, _ := procGetThreadTimes.Call(uintptr(h), uintptr(unsafe.Pointer(&creation)), uintptr(unsafe.Pointer(&exit)),
		uintptr(unsafe.Pointer(&kernel)), uintptr(unsafe.Pointer(&user)))
	if r == 0 {
		return 0, false
	}
	ticks := func(f windows.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration(ticks(kernel)+ticks(user)) * 100, true
}
