package media

import (
	"encoding/binary"
	"reflect"
	"testing"
	"unicode/utf16"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Instance ids and links as Windows 10 and 11 show them in Device Manager,
// setupapi.dev.log and the registry.
const (
	tStickID     = `USB\VID_0781&PID_5583\4C530001230322116363`
	tStickUSB    = `\\?\USB#VID_0781&PID_5583#4C530001230322116363#{a5dcbf10-6530-11d2-901f-00c04fb951ed}`
	tStickDiskID = `USBSTOR\Disk&Ven_SanDisk&Prod_Ultra_Fit&Rev_1.00\4C530001230322116363&0`
	tStickDisk   = `\\?\USBSTOR#Disk&Ven_SanDisk&Prod_Ultra_Fit&Rev_1.00#4C530001230322116363&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`
	tStickVol    = `\\?\STORAGE#Volume#_??_USBSTOR#Disk&Ven_SanDisk&Prod_Ultra_Fit&Rev_1.00#4C530001230322116363&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}`
	tStickVolume = `\\?\Volume{6a3c0e51-1f2b-11ef-a1b2-806e6f6e6963}\`

	tCardID     = `SD\VID_03&OID_5344&PID_SD16G&REV_8.0\5&3A1E2F2&0&0`
	tCardDisk   = `\\?\SD#VID_03&OID_5344&PID_SD16G&REV_8.0#5&3a1e2f2&0&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`
	tCardVol    = `\\?\STORAGE#Volume#_??_SD#VID_03&OID_5344&PID_SD16G&REV_8.0#5&3a1e2f2&0&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}`
	tCardVolume = `\\?\Volume{0b7d51c2-8a6e-11ee-9f3c-3c7c3f1d2e4a}\`

	tDVDID     = `SCSI\CdRom&Ven_HL-DT-ST&Prod_DVD+-RW_GU90N&Rev_A1C0\4&3A7B1C2&0&010000`
	tDVDLink   = `\\?\SCSI#CdRom&Ven_HL-DT-ST&Prod_DVD+-RW_GU90N&Rev_A1C0#4&3a7b1c2&0&010000#{53f56308-b6bf-11d0-94f2-00a0c91efb8b}`
	tDVDVol    = `\\?\SCSI#CdRom&Ven_HL-DT-ST&Prod_DVD+-RW_GU90N&Rev_A1C0#4&3a7b1c2&0&010000#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}`
	tDVDVolume = `\\?\Volume{5c2e9a10-0000-0000-0000-100000000000}\`

	tSSDDisk = `\\?\SCSI#Disk&Ven_NVMe&Prod_Samsung_SSD_980#5&2f0e3a1&0&000000#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`
	tSSDVol  = `\\?\STORAGE#Volume#{8f2c7d4e-5b1a-11ee-8c99-0242ac120002}#0000000000100000#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}`
)

func TestWinParseInstanceID(t *testing.T) {
	tests := []struct {
		id   string
		want winInstanceID
		ok   bool
	}{
		{tStickID, winInstanceID{Enumerator: "USB", VID: "0781", PID: "5583", Interface: -1, Serial: "4C530001230322116363"}, true},
		{tStickDiskID, winInstanceID{Enumerator: "USBSTOR", Kind: "DISK", Vendor: "SanDisk", Product: "Ultra Fit", Revision: "1.00", Interface: -1, Serial: "4C530001230322116363"}, true},
		// As the registry spells it: upper case.
		{`USBSTOR\DISK&VEN_SANDISK&PROD_ULTRA_FIT&REV_1.00\4C530001230322116363&0`,
			winInstanceID{Enumerator: "USBSTOR", Kind: "DISK", Vendor: "SANDISK", Product: "ULTRA FIT", Revision: "1.00", Interface: -1, Serial: "4C530001230322116363"}, true},
		// The second logical unit of a card reader.
		{`USBSTOR\Disk&Ven_Generic-&Prod_SD/MMC&Rev_1.00\058F63666485&1`,
			winInstanceID{Enumerator: "USBSTOR", Kind: "DISK", Vendor: "Generic-", Product: "SD/MMC", Revision: "1.00", Interface: -1, Serial: "058F63666485"}, true},
		// A stick without a serial number: Windows makes the instance up.
		{`USB\VID_058F&PID_6387\5&1A2B3C4D&0&2`, winInstanceID{Enumerator: "USB", VID: "058F", PID: "6387", Interface: -1}, true},
		{`USBSTOR\Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07\7&2A8C1F5&0&1`,
			winInstanceID{Enumerator: "USBSTOR", Kind: "DISK", Vendor: "Generic", Product: "Flash Disk", Revision: "8.07", Interface: -1}, true},
		// A function of a composite device.
		{`USB\VID_1234&PID_5678&MI_01\7&1C2D3E4F&0&0001`, winInstanceID{Enumerator: "USB", VID: "1234", PID: "5678", Interface: 1}, true},
		{tCardID, winInstanceID{Enumerator: "SD", VID: "03", PID: "SD16G", Revision: "8.0", Interface: -1}, true},
		{tDVDID, winInstanceID{Enumerator: "SCSI", Kind: "CDROM", Vendor: "HL-DT-ST", Product: "DVD+-RW GU90N", Revision: "A1C0", Interface: -1}, true},
		{`USB\ROOT_HUB30\4&2E3F9F1&0&0`, winInstanceID{Enumerator: "USB", Interface: -1}, true},
		{`STORAGE\Volume\_??_USBSTOR#Disk&Ven_SanDisk&Prod_Ultra_Fit&Rev_1.00#4C530001230322116363&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`,
			winInstanceID{Enumerator: "STORAGE", Kind: "VOLUME", Interface: -1,
				Serial: `_??_USBSTOR#Disk&Ven_SanDisk&Prod_Ultra_Fit&Rev_1.00#4C530001230322116363&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`}, true},
		{`USB\VID_0781&PID_5583`, winInstanceID{}, false},
		{``, winInstanceID{}, false},
		{`\\?\USB#VID_0781`, winInstanceID{}, false},
	}
	for _, tt := range tests {
		got, ok := winParseInstanceID(tt.id)
		if ok != tt.ok || got != tt.want {
			t.Errorf("winParseInstanceID(%q) = %+v, %v, want %+v, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWinLinkInstanceID(t *testing.T) {
	tests := []struct {
		link, want string
		ok         bool
	}{
		{tStickUSB, tStickID, true},
		{tStickDisk, tStickDiskID, true},
		{tStickVol, `STORAGE\Volume\_??_USBSTOR#Disk&Ven_SanDisk&Prod_Ultra_Fit&Rev_1.00#4C530001230322116363&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`, true},
		{tSSDVol, `STORAGE\Volume\{8f2c7d4e-5b1a-11ee-8c99-0242ac120002}#0000000000100000`, true},
		{tCardDisk, `SD\VID_03&OID_5344&PID_SD16G&REV_8.0\5&3a1e2f2&0&0`, true},
		{tDVDLink, `SCSI\CdRom&Ven_HL-DT-ST&Prod_DVD+-RW_GU90N&Rev_A1C0\4&3a7b1c2&0&010000`, true},
		// The kernel's form, and one with a reference string.
		{`\??\USB#VID_0781&PID_5583#4C530001230322116363#{a5dcbf10-6530-11d2-901f-00c04fb951ed}`, tStickID, true},
		{`\\?\ROOT#MEDIA#0000#{65e8773d-8f56-11d0-a3b9-00a0c9223196}\Global`, `ROOT\MEDIA\0000`, true},
		{`USB\VID_0781&PID_5583\4C530001230322116363`, "", false},
		{`\\?\USB#VID_0781&PID_5583`, "", false},
		{`\\?\Volume{6a3c0e51-1f2b-11ef-a1b2-806e6f6e6963}`, "", false},
		{`\\?\#{a5dcbf10-6530-11d2-901f-00c04fb951ed}`, "", false},
	}
	for _, tt := range tests {
		got, ok := winLinkInstanceID(tt.link)
		if got != tt.want || ok != tt.ok {
			t.Errorf("winLinkInstanceID(%q) = %q, %v, want %q, %v", tt.link, got, ok, tt.want, tt.ok)
		}
	}
}

// storageDescriptor lays out a STORAGE_DEVICE_DESCRIPTOR as the storage
// drivers return it: the fixed part, then the strings.
func storageDescriptor(vendor, product, revision, serial string, bus uint32, removable bool) []byte {
	b := make([]byte, 40)
	le := binary.LittleEndian
	le.PutUint32(b, 40) // Version: sizeof(STORAGE_DEVICE_DESCRIPTOR)
	b[8] = 0x00         // DeviceType: direct access
	if removable {
		b[10] = 1
	}
	put := func(at int, s string) {
		if s == "" {
			return
		}
		le.PutUint32(b[at:], uint32(len(b)))
		b = append(b, s...)
		b = append(b, 0)
	}
	put(12, vendor)
	put(16, product)
	put(20, revision)
	put(24, serial)
	le.PutUint32(b[28:], bus)
	le.PutUint32(b[4:], uint32(len(b)))
	return b
}

func TestWinParseStorageDescriptor(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		want    winStorage
		wantErr bool
	}{
		{"usb stick", storageDescriptor("SanDisk ", "Ultra Fit       ", "1.00", "4C530001230322116363", winBusUSB, true),
			winStorage{Vendor: "SanDisk", Product: "Ultra Fit", Serial: "4C530001230322116363", Bus: winBusUSB, RemovableMedia: true}, false},
		{"nvme", storageDescriptor("", "Samsung SSD 980 1TB", "2B4QFXO7", "0025_3881_1234_5678.", winBusNVMe, false),
			winStorage{Product: "Samsung SSD 980 1TB", Serial: "0025_3881_1234_5678.", Bus: winBusNVMe}, false},
		{"short", make([]byte, 20), winStorage{}, true},
	}
	for _, tt := range tests {
		got, err := winParseStorageDescriptor(tt.b)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: winParseStorageDescriptor = %+v, %v, want %+v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}

	// Offsets past the data the driver returned (a truncated buffer, or
	// Size smaller than the buffer) yield no string, not a panic.
	b := storageDescriptor("SanDisk", "Ultra Fit", "1.00", "4C53", winBusUSB, true)
	binary.LittleEndian.PutUint32(b[4:], 40)
	got, err := winParseStorageDescriptor(b)
	if err != nil || got != (winStorage{Bus: winBusUSB, RemovableMedia: true}) {
		t.Errorf("winParseStorageDescriptor(Size 40) = %+v, %v, want no strings", got, err)
	}
	binary.LittleEndian.PutUint32(b[16:], 0xffffffff)
	if _, err := winParseStorageDescriptor(b); err != nil {
		t.Errorf("winParseStorageDescriptor(offset ^0) = %v", err)
	}
}

func TestWinParseStructures(t *testing.T) {
	le := binary.LittleEndian
	num := make([]byte, 12)
	le.PutUint32(num, winDeviceDisk)
	le.PutUint32(num[4:], 2)
	le.PutUint32(num[8:], 1)
	if got, err := winParseStorageNumber(num); err != nil || got != (winStorageNumber{Type: winDeviceDisk, Number: 2, Partition: 1}) {
		t.Errorf("winParseStorageNumber = %+v, %v", got, err)
	}
	if _, err := winParseStorageNumber(num[:8]); err == nil {
		t.Error("winParseStorageNumber(8 bytes) succeeded")
	}

	geo := make([]byte, 32)
	le.PutUint32(geo[20:], 512)
	le.PutUint64(geo[24:], 61530439680)
	if got, err := winParseDiskSize(geo); err != nil || got != 61530439680 {
		t.Errorf("winParseDiskSize = %d, %v", got, err)
	}
	if got, err := winParseSectorSize(geo[:24]); err != nil || got != 512 {
		t.Errorf("winParseSectorSize = %d, %v", got, err)
	}
	if _, err := winParseDiskSize(geo[:24]); err == nil {
		t.Error("winParseDiskSize(24 bytes) succeeded")
	}

	length := make([]byte, 8)
	le.PutUint64(length, 61530439680-1048576)
	if got, err := winParseLength(length); err != nil || got != 61530439680-1048576 {
		t.Errorf("winParseLength = %d, %v", got, err)
	}
	le.PutUint64(length, 1<<63)
	if _, err := winParseLength(length); err == nil {
		t.Error("winParseLength(negative) succeeded")
	}
}

func TestWinUSBClass(t *testing.T) {
	tests := []struct {
		ids   []string
		class string
		ok    bool
	}{
		{[]string{`USB\Class_08&SubClass_06&Prot_50`, `USB\Class_08&SubClass_06`, `USB\Class_08`}, wire.MediaUSBStorage, true},
		{[]string{`USB\Class_08&SubClass_06&Prot_62`}, wire.MediaUSBStorage, true}, // UAS
		{[]string{`USB\Class_08&SubClass_02&Prot_50`}, wire.MediaOptical, true},
		{[]string{`USB\CLASS_08&SUBCLASS_05&PROT_00`}, wire.MediaOptical, true},
		{[]string{`USB\DevClass_00&SubClass_00&Prot_00`, `USB\COMPOSITE`}, "", false},
		{[]string{`USB\Class_03&SubClass_01&Prot_01`, `USB\Class_03`}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		class, ok := winUSBClass(tt.ids)
		if class != tt.class || ok != tt.ok {
			t.Errorf("winUSBClass(%q) = %q, %v, want %q, %v", tt.ids, class, ok, tt.class, tt.ok)
		}
	}
}

func TestWinUSBMedium(t *testing.T) {
	stick := winNode{ID: tStickID, CompatibleIDs: []string{`USB\Class_08&SubClass_06&Prot_50`, `USB\Class_08`}, BusReported: "Ultra Fit"}
	composite := winNode{ID: `USB\VID_1234&PID_5678\ABC0001`, CompatibleIDs: []string{`USB\DevClass_00&SubClass_00&Prot_00`, `USB\COMPOSITE`}, BusReported: "Combo"}
	hid := winNode{ID: `USB\VID_1234&PID_5678&MI_00\7&1C2D3E4F&0&0000`, CompatibleIDs: []string{`USB\Class_03&SubClass_01&Prot_01`}}
	storage := winNode{ID: `USB\VID_1234&PID_5678&MI_01\7&1C2D3E4F&0&0001`, CompatibleIDs: []string{`USB\Class_08&SubClass_06&Prot_50`}}
	tests := []struct {
		name      string
		dev       winNode
		functions []winNode
		want      wire.MediaDevice
		ok        bool
	}{
		{"stick", stick, nil, wire.MediaDevice{Class: wire.MediaUSBStorage, Name: tStickID, DevPath: tStickID, Bus: "usb",
			VID: "0781", PID: "5583", Serial: "4C530001230322116363", Product: "Ultra Fit"}, true},
		{"composite with storage", composite, []winNode{hid, storage}, wire.MediaDevice{Class: wire.MediaUSBStorage,
			Name: composite.ID, DevPath: composite.ID, Bus: "usb", VID: "1234", PID: "5678", Serial: "ABC0001", Product: "Combo"}, true},
		{"composite before its functions", composite, nil, wire.MediaDevice{}, false},
		{"composite without storage", composite, []winNode{hid}, wire.MediaDevice{}, false},
		{"a function itself", storage, nil, wire.MediaDevice{}, false},
		{"root hub", winNode{ID: `USB\ROOT_HUB30\4&2E3F9F1&0&0`, CompatibleIDs: []string{`USB\ROOT_HUB30`}}, nil, wire.MediaDevice{}, false},
		{"usb storage disk", winNode{ID: tStickDiskID, CompatibleIDs: []string{`USBSTOR\Disk`}}, nil, wire.MediaDevice{}, false},
	}
	for _, tt := range tests {
		got, ok := winUSBMedium(tt.dev, tt.functions)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: winUSBMedium = %+v, %v, want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWinDiskMedium(t *testing.T) {
	pciRoot := winNode{ID: `ACPI\PNP0A08\0`}
	xhci := winNode{ID: `PCI\VEN_8086&DEV_A36D&SUBSYS_85DA103C&REV_10\3&11583659&0&A0`}
	roothub := winNode{ID: `USB\ROOT_HUB30\4&2E3F9F1&0&0`}
	stick := winNode{ID: tStickID, CompatibleIDs: []string{`USB\Class_08&SubClass_06&Prot_50`}, BusReported: "Ultra Fit"}
	tests := []struct {
		name string
		f    winDiskFacts
		want wire.MediaDevice
		ok   bool
	}{
		{"usb stick", winDiskFacts{Iface: winIfaceDisk,
			Chain:   []winNode{{ID: tStickDiskID, FriendlyName: "SanDisk Ultra Fit USB Device", RemovalPolicy: winRemovalExpectSurprise}, stick, roothub, xhci, pciRoot},
			Storage: winStorage{Vendor: "SanDisk", Product: "Ultra Fit", Serial: "4C530001230322116363", Bus: winBusUSB, RemovableMedia: true}},
			wire.MediaDevice{Class: wire.MediaUSBStorage, Name: tStickID, DevPath: tStickID, Bus: "usb", VID: "0781", PID: "5583",
				Vendor: "SanDisk", Product: "Ultra Fit", Serial: "4C530001230322116363"}, true},
		{"usb attached scsi", winDiskFacts{Iface: winIfaceDisk,
			Chain: []winNode{{ID: `SCSI\Disk&Ven_Samsung&Prod_PSSD_T7\7&2B5F1A3C&0&000000`},
				{ID: `USB\VID_04E8&PID_4001\S6TXNS0T123456X`, CompatibleIDs: []string{`USB\Class_08&SubClass_06&Prot_62`}, BusReported: "PSSD T7"}, roothub, xhci},
			Storage: winStorage{Vendor: "Samsung", Product: "PSSD T7", Bus: winBusUSB}},
			wire.MediaDevice{Class: wire.MediaUSBStorage, Name: `USB\VID_04E8&PID_4001\S6TXNS0T123456X`, DevPath: `USB\VID_04E8&PID_4001\S6TXNS0T123456X`,
				Bus: "usb", VID: "04e8", PID: "4001", Vendor: "Samsung", Product: "PSSD T7", Serial: "S6TXNS0T123456X"}, true},
		{"card in a usb reader", winDiskFacts{Iface: winIfaceDisk,
			Chain: []winNode{{ID: `USBSTOR\Disk&Ven_Generic-&Prod_SD/MMC&Rev_1.00\058F63666485&0`},
				{ID: `USB\VID_058F&PID_6366\058F63666485`, CompatibleIDs: []string{`USB\Class_08&SubClass_06&Prot_50`}}, roothub}},
			wire.MediaDevice{Class: wire.MediaUSBStorage, Name: `USB\VID_058F&PID_6366\058F63666485`, DevPath: `USB\VID_058F&PID_6366\058F63666485`,
				Bus: "usb", VID: "058f", PID: "6366", Vendor: "Generic-", Product: "SD/MMC", Serial: "058F63666485"}, true},
		{"storage function of a composite device", winDiskFacts{Iface: winIfaceDisk,
			Chain: []winNode{{ID: `USBSTOR\Disk&Ven_Acme&Prod_Combo&Rev_0.01\7&1C2D3E4F&0&0001&0`},
				{ID: `USB\VID_1234&PID_5678&MI_01\7&1C2D3E4F&0&0001`, CompatibleIDs: []string{`USB\Class_08&SubClass_06&Prot_50`}},
				{ID: `USB\VID_1234&PID_5678\ABC0001`, CompatibleIDs: []string{`USB\COMPOSITE`}}, roothub}},
			wire.MediaDevice{Class: wire.MediaUSBStorage, Name: `USB\VID_1234&PID_5678\ABC0001`, DevPath: `USB\VID_1234&PID_5678\ABC0001`,
				Bus: "usb", VID: "1234", PID: "5678", Vendor: "Acme", Product: "Combo", Serial: "ABC0001"}, true},
		{"usb dvd drive", winDiskFacts{Iface: winIfaceCDROM,
			Chain: []winNode{{ID: `USBSTOR\CdRom&Ven_ASUS&Prod_SDRW-08D2S-U&Rev_B901\KE2D8AB1234&0`},
				{ID: `USB\VID_0E8D&PID_1887\KE2D8AB1234`, CompatibleIDs: []string{`USB\Class_08&SubClass_06&Prot_50`}}, roothub}},
			wire.MediaDevice{Class: wire.MediaOptical, Name: `USB\VID_0E8D&PID_1887\KE2D8AB1234`, DevPath: `USB\VID_0E8D&PID_1887\KE2D8AB1234`,
				Bus: "usb", VID: "0e8d", PID: "1887", Vendor: "ASUS", Product: "SDRW-08D2S-U", Serial: "KE2D8AB1234"}, true},
		{"sd card in a built-in reader", winDiskFacts{Iface: winIfaceDisk,
			Chain:   []winNode{{ID: tCardID, FriendlyName: "SD Memory Card"}, {ID: `PCI\VEN_1217&DEV_8621&SUBSYS_85DA103C&REV_01\4&1A2B3C4D&0&00E4`}, pciRoot},
			Storage: winStorage{Bus: winBusSD, RemovableMedia: true, Serial: "1234ABCD"}},
			wire.MediaDevice{Class: wire.MediaMemoryCard, Name: tCardID, DevPath: tCardID, Bus: "mmc", Product: "SD16G", Serial: "1234ABCD"}, true},
		{"card in a pci reader that shows as scsi", winDiskFacts{Iface: winIfaceDisk,
			Chain:   []winNode{{ID: `SCSI\Disk&Ven_Generic-&Prod_SD/MMC/MS_PRO&Rev_1.00\5&2A3B4C5D&0&000000`, RemovalPolicy: winRemovalExpectSurprise}, xhci},
			Storage: winStorage{Vendor: "Generic-", Product: "SD/MMC/MS PRO", Bus: winBusSCSI, RemovableMedia: true}},
			wire.MediaDevice{Class: wire.MediaMemoryCard, Name: `SCSI\Disk&Ven_Generic-&Prod_SD/MMC/MS_PRO&Rev_1.00\5&2A3B4C5D&0&000000`,
				DevPath: `SCSI\Disk&Ven_Generic-&Prod_SD/MMC/MS_PRO&Rev_1.00\5&2A3B4C5D&0&000000`, Bus: "scsi", Vendor: "Generic-", Product: "SD/MMC/MS PRO"}, true},
		{"built-in dvd drive", winDiskFacts{Iface: winIfaceCDROM,
			Chain:   []winNode{{ID: tDVDID, FriendlyName: "HL-DT-ST DVD+-RW GU90N"}, {ID: `PCI\VEN_8086&DEV_A352&SUBSYS_85DA103C&REV_10\3&11583659&0&B8`}, pciRoot},
			Storage: winStorage{Vendor: "HL-DT-ST", Product: "DVD+-RW GU90N", Serial: "KZ5E1234567", Bus: winBusSATA, RemovableMedia: true}},
			wire.MediaDevice{Class: wire.MediaOptical, Name: tDVDID, DevPath: tDVDID, Bus: "ata", Vendor: "HL-DT-ST", Product: "DVD+-RW GU90N", Serial: "KZ5E1234567"}, true},
		{"nvme system disk", winDiskFacts{Iface: winIfaceDisk,
			Chain:   []winNode{{ID: `SCSI\Disk&Ven_NVMe&Prod_Samsung_SSD_980\5&2F0E3A1&0&000000`, RemovalPolicy: winRemovalExpectNone}, {ID: `PCI\VEN_144D&DEV_A809&SUBSYS_A801144D&REV_00\4&2B5B2B3E&0&00E8`}, pciRoot},
			Storage: winStorage{Product: "Samsung SSD 980 1TB", Bus: winBusNVMe}}, wire.MediaDevice{}, false},
		{"hot-plug sata disk", winDiskFacts{Iface: winIfaceDisk,
			Chain:   []winNode{{ID: `SCSI\Disk&Ven_&Prod_ST2000DM008-2FR1\4&5A1B2C3D&0&020000`, RemovalPolicy: winRemovalExpectSurprise}, {ID: `PCI\VEN_8086&DEV_A352\3&11583659&0&B8`}},
			Storage: winStorage{Product: "ST2000DM008-2FR1", Bus: winBusSATA}}, wire.MediaDevice{}, false},
		{"mounted vhd", winDiskFacts{Iface: winIfaceDisk,
			Chain:   []winNode{{ID: `SCSI\Disk&Ven_Msft&Prod_Virtual_Disk\2&1F4ADFFE&0&000001`, RemovalPolicy: winRemovalExpectSurprise}, {ID: `ROOT\VHDMP\0000`}},
			Storage: winStorage{Vendor: "Msft", Product: "Virtual Disk", Bus: winBusFileBackedVirtual, RemovableMedia: true}}, wire.MediaDevice{}, false},
		{"no chain", winDiskFacts{Iface: winIfaceDisk}, wire.MediaDevice{}, false},
	}
	for _, tt := range tests {
		got, ok := winDiskMedium(tt.f)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: winDiskMedium =\n  %+v, %v\nwant\n  %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// utf16z encodes s as NUL-terminated little-endian UTF-16.
func utf16z(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return append(b, 0, 0)
}

func TestWinMultiSZ(t *testing.T) {
	b := append(utf16z(`USB\Class_08&SubClass_06&Prot_50`), utf16z(`USB\Class_08`)...)
	b = append(b, 0, 0, 0xff, 0xff) // the list's end, then garbage
	want := []string{`USB\Class_08&SubClass_06&Prot_50`, `USB\Class_08`}
	if got := winMultiSZ(b); !reflect.DeepEqual(got, want) {
		t.Errorf("winMultiSZ = %q, want %q", got, want)
	}
	if got := winMultiSZ(utf16z(`E:\`)[:6]); !reflect.DeepEqual(got, []string{`E:\`}) {
		t.Errorf("winMultiSZ(unterminated) = %q", got)
	}
	if got := winMultiSZ(nil); got != nil {
		t.Errorf("winMultiSZ(nil) = %q", got)
	}
	if got := winUTF16(utf16z("Sønevakt")); got != "Sønevakt" {
		t.Errorf("winUTF16 = %q", got)
	}
}
