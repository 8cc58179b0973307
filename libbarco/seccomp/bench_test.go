package seccomp

import "testing"

// Both benchmarks use a profile the size of Docker's default one (about
// 330 allowed syscalls, conditional rules, three architectures).

func BenchmarkCompile(b *testing.B) {
	s := loadProfile(b, "large-profile.json")
	for b.Loop() {
		if _, err := Compile(s, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileCached(b *testing.B) {
	s := loadProfile(b, "large-profile.json")
	dir := b.TempDir()
	if _, err := CompileCached(dir, s, nil); err != nil { // warm the cache
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := CompileCached(dir, s, nil); err != nil {
			b.Fatal(err)
		}
	}
}
