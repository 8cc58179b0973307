package cgroups

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSharesToWeight(t *testing.T) {
	tests := []struct {
		shares, want uint64
	}{
		{0, 0},          // not set
		{2, 1},          // v1 minimum → v2 minimum
		{262144, 10000}, // v1 maximum → v2 maximum
		{1024, 39},      // the v1 default lands well below v2's 100
		{102400, 3906},  // 1 + 102398*9999/262142 = 3906.9...
		{1, 1},          // below the v1 range: clamped like the v1 kernel
		{1 << 20, 10000},
	}
	for _, tt := range tests {
		if got := sharesToWeight(tt.shares); got != tt.want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", tt.shares, got, tt.want)
		}
	}
}

func TestSwapMax(t *testing.T) {
	tests := []struct {
		name         string
		memory, swap int64
		want         string
		wantErr      string
	}{
		{name: "nothing set", want: ""},
		{name: "memory only", memory: 100, want: ""},
		{name: "unlimited memory frees swap", memory: -1, want: "max"},
		{name: "unlimited swap", memory: 100, swap: -1, want: "max"},
		{name: "swap is memory+swap", memory: 64 << 20, swap: 96 << 20, want: "33554432"},
		{name: "no swap at all", memory: 100, swap: 100, want: "0"},
		{name: "swap below memory", memory: 100, swap: 50, wantErr: "below the memory limit"},
		{name: "swap without memory", swap: 100, wantErr: "needs a memory limit"},
		{name: "swap with unlimited memory", memory: -1, swap: 100, wantErr: "needs a memory limit"},
		{name: "negative swap", memory: 100, swap: -5, wantErr: "invalid swap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := swapMax(tt.memory, tt.swap)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("swapMax(%d, %d) = %q, %v; want error %q", tt.memory, tt.swap, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("swapMax(%d, %d) = %q, %v; want %q", tt.memory, tt.swap, got, err, tt.want)
			}
		})
	}
}

func TestLimitValueCPUMaxPidsMax(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{limitValue(0), ""},
		{limitValue(-1), "max"},
		{limitValue(4096), "4096"},
		{cpuMax(50000, 100000), "50000 100000"},
		{cpuMax(20000, 0), "20000 100000"},
		{cpuMax(0, 250000), "max 250000"},
		{cpuMax(-1, 0), "max 100000"},
		{pidsMax(0), "max"},
		{pidsMax(-1), "max"},
		{pidsMax(32), "32"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestBlkioWeightToIOWeight(t *testing.T) {
	tests := []struct {
		w       uint16
		want    uint64
		wantErr bool
	}{
		{10, 1, false},
		{1000, 10000, false},
		{500, 4950, false}, // 1 + 490*9999/990
		{100, 910, false},  // 1 + 90*9999/990 = 1 + 909.0
		{9, 0, true},
		{1001, 0, true},
	}
	for _, tt := range tests {
		got, err := blkioWeightToIOWeight(tt.w)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("blkioWeightToIOWeight(%d) = %d, %v; want %d (error %v)", tt.w, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestIOMaxLines(t *testing.T) {
	dev := func(major, minor int64, rate uint64) specs.LinuxThrottleDevice {
		return specs.LinuxThrottleDevice{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: rate}
	}
	tests := []struct {
		name    string
		b       *specs.LinuxBlockIO
		want    []string
		wantErr string
	}{
		{name: "nil", b: nil},
		{name: "no throttling", b: &specs.LinuxBlockIO{Weight: ptr[uint16](100)}},
		{
			name: "one device, all four",
			b: &specs.LinuxBlockIO{
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{dev(8, 0, 1048576)},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{dev(8, 0, 2097152)},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{dev(8, 0, 100)},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{dev(8, 0, 200)},
			},
			want: []string{"8:0 rbps=1048576 wbps=2097152 riops=100 wiops=200"},
		},
		{
			name: "two devices in order of appearance, rate 0 lifts the limit",
			b: &specs.LinuxBlockIO{
				ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{dev(253, 1, 0), dev(8, 16, 4096)},
				ThrottleReadIOPSDevice: []specs.LinuxThrottleDevice{dev(8, 16, 10)},
			},
			want: []string{"253:1 wbps=max", "8:16 wbps=4096 riops=10"},
		},
		{
			name:    "negative device",
			b:       &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{dev(-1, 0, 1)}},
			wantErr: "linux.resources.blockIO.throttleReadBpsDevice[0]: invalid device -1:0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ioMaxLines(tt.b)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ioMaxLines() = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ioMaxLines() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRdmaLine(t *testing.T) {
	for _, tt := range []struct {
		r    specs.LinuxRdma
		want string
	}{
		{specs.LinuxRdma{}, ""},
		{specs.LinuxRdma{HcaHandles: ptr[uint32](2)}, "mlx5_0 hca_handle=2"},
		{specs.LinuxRdma{HcaHandles: ptr[uint32](2), HcaObjects: ptr[uint32](2000)}, "mlx5_0 hca_handle=2 hca_object=2000"},
	} {
		if got := rdmaLine("mlx5_0", tt.r); got != tt.want {
			t.Errorf("rdmaLine(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
