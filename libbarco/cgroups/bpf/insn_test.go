package bpf

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestInsnEncoding checks each constructor against the bytes the kernel's
// headers give for the instruction (as bpftool and llvm-objdump print them).
func TestInsnEncoding(t *testing.T) {
	if bigEndian {
		t.Skip("the expected encodings are little-endian")
	}
	tests := []struct {
		name string
		in   Insn
		want string
	}{
		{"ldxw r2 = *(u32 *)(r1 + 4)", LoadMem32(R2, R1, 4), "6112040000000000"},
		{"ldxw negative offset", LoadMem32(R0, R10, -8), "61a0f8ff00000000"},
		{"w1 = 7", Mov32Imm(R1, 7), "b401000007000000"},
		{"w3 = w2", Mov32Reg(R3, R2), "bc23000000000000"},
		{"w2 &= 0xffff", And32Imm(R2, 0xffff), "54020000ffff0000"},
		{"w3 >>= 16", Rsh32Imm(R3, 16), "7403000010000000"},
		{"r0 = 1", Mov64Imm(R0, 1), "b700000001000000"},
		{"r0 = -1", Mov64Imm(R0, -1), "b7000000ffffffff"},
		{"exit", Exit(), "9500000000000000"},
		{"if w4 != 0x80000000", JNE32Imm(R4, -1<<31, ""), "5604000000000080"},
		{"if w6 == 0", JEQ32Imm(R6, 0, ""), "1606000000000000"},
		{"registers take a nibble each", Mov32Reg(R10, R9), "bc9a000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(tt.in.append(nil)); got != tt.want {
				t.Errorf("encoding = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestResolve checks that labels become offsets counted from the
// instruction after the jump, and the errors for misused labels.
func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		build   func(b *Builder)
		want    string // hex of the program
		wantErr string
	}{
		{
			name: "forward jump",
			build: func(b *Builder) {
				b.Emit(JNE32Imm(R2, 1, "out"), Mov64Imm(R0, 1), Exit())
				b.Label("out")
				b.Emit(Mov64Imm(R0, 0), Exit())
			},
			want: "5602020001000000" + "b700000001000000" + "9500000000000000" +
				"b700000000000000" + "9500000000000000",
		},
		{
			name: "jump to the next instruction",
			build: func(b *Builder) {
				b.Emit(JEQ32Imm(R2, 0, "next"))
				b.Label("next")
				b.Emit(Exit())
			},
			want: "1602000000000000" + "9500000000000000",
		},
		{
			name: "two labels on one instruction",
			build: func(b *Builder) {
				b.Emit(JEQ32Imm(R2, 0, "a"), JEQ32Imm(R3, 0, "b"), Mov64Imm(R0, 1))
				b.Label("a")
				b.Label("b")
				b.Emit(Exit())
			},
			want: "1602020000000000" + "1603010000000000" + "b700000001000000" + "9500000000000000",
		},
		{
			name: "backward jump",
			build: func(b *Builder) {
				b.Label("top")
				b.Emit(Mov64Imm(R0, 0), JNE32Imm(R0, 0, "top"), Exit())
			},
			want: "b700000000000000" + "5600feff00000000" + "9500000000000000",
		},
		{
			name: "unknown label",
			build: func(b *Builder) {
				b.Emit(Mov64Imm(R0, 0), JNE32Imm(R0, 0, "nowhere"), Exit())
			},
			wantErr: `instruction 1: jump to unknown label "nowhere"`,
		},
		{
			name: "label after the last instruction",
			build: func(b *Builder) {
				b.Emit(JNE32Imm(R0, 0, "end"), Exit())
				b.Label("end")
			},
			wantErr: `instruction 0: label "end" names no instruction`,
		},
		{
			name: "label defined twice",
			build: func(b *Builder) {
				b.Label("x")
				b.Emit(Exit())
				b.Label("x")
				b.Emit(Exit())
			},
			wantErr: `label "x" defined twice`,
		},
		{
			name: "offset overflow",
			build: func(b *Builder) {
				b.Emit(JNE32Imm(R0, 0, "far"))
				for range 1 << 15 {
					b.Emit(Mov64Imm(R0, 0))
				}
				b.Label("far")
				b.Emit(Exit())
			},
			wantErr: `instruction 0: jump to "far" is 32768 instructions away, more than a 16-bit offset holds`,
		},
		{
			name: "longest forward jump",
			build: func(b *Builder) {
				b.Emit(JNE32Imm(R0, 0, "far"))
				for range 1<<15 - 1 {
					b.Emit(Mov64Imm(R0, 0))
				}
				b.Label("far")
				b.Emit(Exit())
			},
			want: "5600ff7f00000000" + strings.Repeat("b700000000000000", 1<<15-1) + "9500000000000000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bigEndian && tt.want != "" {
				t.Skip("the expected encodings are little-endian")
			}
			var b Builder
			tt.build(&b)
			got, err := b.Resolve()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Resolve() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h := hex.EncodeToString(got); h != tt.want {
				t.Errorf("Resolve() = %s\nwant        %s", h, tt.want)
			}
		})
	}
}
