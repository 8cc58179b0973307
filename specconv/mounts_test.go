package specconv

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	tests := []struct {
		opts      string
		flags     uint64
		clear     uint64
		prop      []uint64
		recSet    uint64
		recClr    uint64
		data      string
		tmpCopyUp bool
		idmap     string
	}{
		{opts: "", data: ""},
		{opts: "defaults"},
		{opts: "ro", flags: unix.MS_RDONLY},
		{opts: "ro,rw", clear: unix.MS_RDONLY},
		{opts: "rw,ro", flags: unix.MS_RDONLY},
		{opts: "nosuid,nodev,noexec", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{opts: "suid,dev,exec", clear: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{opts: "nodev,dev", clear: unix.MS_NODEV},
		{opts: "sync,dirsync,remount,mand", flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_REMOUNT | unix.MS_MANDLOCK},
		{opts: "async,nomand", clear: unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK},
		{opts: "noatime,nodiratime", flags: unix.MS_NOATIME | unix.MS_NODIRATIME},
		{opts: "atime,diratime,norelatime,nostrictatime", clear: unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME},
		{opts: "relatime", flags: unix.MS_RELATIME},
		{opts: "strictatime", flags: unix.MS_STRICTATIME},
		{opts: "bind", flags: unix.MS_BIND},
		{opts: "rbind", flags: unix.MS_BIND | unix.MS_REC},
		{opts: "lazytime,silent,iversion,nosymfollow", flags: unix.MS_LAZYTIME | unix.MS_SILENT | unix.MS_I_VERSION | unix.MS_NOSYMFOLLOW},
		{opts: "nolazytime,loud,noiversion,symfollow", clear: unix.MS_LAZYTIME | unix.MS_SILENT | unix.MS_I_VERSION | unix.MS_NOSYMFOLLOW},
		{opts: "acl", flags: unix.MS_POSIXACL},
		{opts: "noacl", clear: unix.MS_POSIXACL},
		{opts: "private", prop: []uint64{unix.MS_PRIVATE}},
		{opts: "rprivate", prop: []uint64{unix.MS_PRIVATE | unix.MS_REC}},
		{opts: "shared,rslave", prop: []uint64{unix.MS_SHARED, unix.MS_SLAVE | unix.MS_REC}},
		{opts: "slave,rshared,unbindable,runbindable", prop: []uint64{unix.MS_SLAVE, unix.MS_SHARED | unix.MS_REC, unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC}},
		{opts: "rro,rnosuid,rnodev,rnoexec,rnodiratime,rnosymfollow",
			recSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW},
		{opts: "rrw,rsuid,rdev,rexec,rdiratime,rsymfollow",
			recClr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW},
		{opts: "rro,rrw", recClr: unix.MOUNT_ATTR_RDONLY},
		{opts: "rrw,rro", recSet: unix.MOUNT_ATTR_RDONLY},
		{opts: "rnoatime", recSet: unix.MOUNT_ATTR_NOATIME, recClr: unix.MOUNT_ATTR__ATIME},
		{opts: "rstrictatime", recSet: unix.MOUNT_ATTR_STRICTATIME, recClr: unix.MOUNT_ATTR__ATIME},
		{opts: "rrelatime", recSet: unix.MOUNT_ATTR_RELATIME, recClr: unix.MOUNT_ATTR__ATIME},
		{opts: "rnoatime,ratime", recSet: unix.MOUNT_ATTR_RELATIME, recClr: unix.MOUNT_ATTR__ATIME},
		{opts: "rnoatime,rstrictatime", recSet: unix.MOUNT_ATTR_STRICTATIME, recClr: unix.MOUNT_ATTR__ATIME},
		{opts: "rstrictatime,rnostrictatime", recSet: unix.MOUNT_ATTR_RELATIME, recClr: unix.MOUNT_ATTR__ATIME},
		{opts: "rnorelatime", recSet: unix.MOUNT_ATTR_RELATIME, recClr: unix.MOUNT_ATTR__ATIME},
		{opts: "tmpcopyup", tmpCopyUp: true},
		{opts: "rbind,idmap", flags: unix.MS_BIND | unix.MS_REC, idmap: "idmap"},
		{opts: "bind,ridmap", flags: unix.MS_BIND, idmap: "ridmap"},
		{opts: "mode=755,size=65536k", data: "mode=755,size=65536k"},
		{opts: "nosuid,mode=1777,ro,size=1m,newinstance", flags: unix.MS_NOSUID | unix.MS_RDONLY, data: "mode=1777,size=1m,newinstance"},
		{opts: "context=\"system_u:object_r:container_file_t:s0\"", data: "context=\"system_u:object_r:container_file_t:s0\""},
		{opts: "RO", data: "RO"},
	}
	for _, tt := range tests {
		t.Run(tt.opts, func(t *testing.T) {
			var opts []string
			if tt.opts != "" {
				opts = strings.Split(tt.opts, ",")
			}
			m, idmap := parseMountOptions(opts)
			if m.Flags != tt.flags || m.ClearFlags != tt.clear {
				t.Errorf("flags %#x clear %#x, want %#x %#x", m.Flags, m.ClearFlags, tt.flags, tt.clear)
			}
			if !reflect.DeepEqual(m.PropagationFlags, tt.prop) {
				t.Errorf("propagation %#x, want %#x", m.PropagationFlags, tt.prop)
			}
			if m.RecAttrSet != tt.recSet || m.RecAttrClr != tt.recClr {
				t.Errorf("rec set %#x clr %#x, want %#x %#x", m.RecAttrSet, m.RecAttrClr, tt.recSet, tt.recClr)
			}
			if m.Data != tt.data || m.TmpCopyUp != tt.tmpCopyUp || idmap != tt.idmap {
				t.Errorf("data %q tmpcopyup %v idmap %q, want %q %v %q", m.Data, m.TmpCopyUp, idmap, tt.data, tt.tmpCopyUp, tt.idmap)
			}
		})
	}
}
