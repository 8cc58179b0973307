package libbarco

import (
	"testing"

	"github.com/barco-oci/barco/libbarco/configs"
)

func TestSyncPipeRoundTrip(t *testing.T) {
	a, b, err := socketPair("test")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	parent, child := newSyncPipe(a), newSyncPipe(b)

	sent := bootstrap{ID: "c1", Config: &configs.Config{Hostname: "h"}, FifoFD: 4, ConsoleFD: -1, PreserveFDs: 2}
	if err := parent.send(sent); err != nil {
		t.Fatal(err)
	}
	var got bootstrap
	if err := child.recv(&got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "c1" || got.Config.Hostname != "h" || got.FifoFD != 4 || got.ConsoleFD != -1 || got.PreserveFDs != 2 {
		t.Fatalf("bootstrap changed in transit: %+v", got)
	}

	if err := child.send(syncMsg{Type: msgError, Error: "mount /proc: permission denied"}); err != nil {
		t.Fatal(err)
	}
	if err := parent.waitReady(nil, nil); err == nil || err.Error() != "mount /proc: permission denied" {
		t.Fatalf("waitReady: %v", err)
	}
	if err := child.send(syncMsg{Type: msgReady}); err != nil {
		t.Fatal(err)
	}
	if err := parent.waitReady(nil, nil); err != nil {
		t.Fatalf("waitReady: %v", err)
	}
	if err := child.send(syncMsg{Type: "bogus"}); err != nil {
		t.Fatal(err)
	}
	if err := parent.waitReady(nil, nil); err == nil {
		t.Fatal("unexpected message accepted")
	}
	b.Close()
	if err := parent.waitReady(nil, nil); err == nil {
		t.Fatal("closed pipe reported ready")
	}
}
