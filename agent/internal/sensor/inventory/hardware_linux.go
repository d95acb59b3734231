package inventory

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func fillHardware(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	hw, err := linuxHardware(ctx, "/", systemUSBIDs, warn)
	inv.Hardware = hw
	return err
}

// linuxHardware reads the hardware of the machine whose root is root: the
// DMI identity from sys/class/dmi/id, the disks from sys/block, the USB
// devices from sys/bus/usb/devices. What one part yields is kept when
// another fails; ids names the USB devices that name themselves not.
func linuxHardware(ctx context.Context, root string, ids *usbIDs, warn func(string, ...any)) (*wire.Hardware, error) {
	hw := &wire.Hardware{System: dmiSystem(root)}
	disks, errDisks := linuxDisks(ctx, root, warn)
	hw.Disks = disks
	usb, errUSB := linuxUSB(ctx, root, ids)
	hw.USB = usb
	return hw, errors.Join(errDisks, errUSB)
}

// dmiSystem reads the DMI identity the kernel exports in sys/class/dmi/id.
// Serials and the UUID are readable by root only; for anyone else, and on
// machines without DMI (ARM boards, containers without sysfs), they stay
// empty without a warning: their absence is the normal case there.
func dmiSystem(root string) wire.System {
	dir := filepath.Join(root, "sys/class/dmi/id")
	get := func(name string) string {
		b, _ := readSysfs(filepath.Join(dir, name))
		return smbiosValue(b)
	}
	s := wire.System{
		Vendor:      get("sys_vendor"),
		Model:       get("product_name"),
		Serial:      get("product_serial"),
		AssetTag:    get("chassis_asset_tag"),
		BIOSVendor:  get("bios_vendor"),
		BIOSVersion: get("bios_version"),
		BoardSerial: get("board_serial"),
	}
	uuid, _ := readSysfs(filepath.Join(dir, "product_uuid"))
	s.UUID = smbiosUUIDValue(string(uuid))
	ct, _ := readSysfs(filepath.Join(dir, "chassis_type"))
	if t, err := strconv.Atoi(hwString(ct)); err == nil {
		s.Chassis = chassisName(t)
	}
	if smbiosVirtual(s.Vendor, s.Model) {
		s.Chassis = "vm"
	}
	return s
}

// sysfsMax bounds what is read of one sysfs or udev database file: attributes
// are at most a page, udev records a few kilobytes.
const sysfsMax = 64 << 10

// readSysfs reads a small file of sysfs, procfs or the udev database.
func readSysfs(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, sysfsMax))
}
