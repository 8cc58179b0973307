package clients

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The images are made locally from the busybox rootfs: there is no registry
// to pull from. imageRef is the busybox image; pauseImageRef is the CRI
// sandbox image, the same rootfs plus catatonit in pause mode, which stands
// in for the pause image kubelet would pull.
const (
	imageRef      = "localhost/barco-busybox:test"
	pauseImageRef = "localhost/barco-pause:test"
)

// layerTar writes the tree at root as an uncompressed image layer: every
// file, directory and symlink with its mode and owner, paths relative to
// root, in a stable order.
func layerTar(w io.Writer, root string, extra map[string]string) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel == "." || rel == ".stamp" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		hdr.Name = rel
		if info.IsDir() {
			hdr.Name += "/"
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("layer of %s: %w", root, err)
	}
	// Extra files (host path -> path in the image), for catatonit.
	names := make([]string, 0, len(extra))
	for name := range extra {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := os.ReadFile(extra[name])
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// imageConfig is the part of the OCI image config the scenarios need.
type imageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
}

// writeOCIArchive writes a one-layer OCI image as an OCI archive (a tar of
// an image layout), named ref, as `ctr images import` reads it.
func writeOCIArchive(path, ref string, layer []byte, cfg imageConfig) error {
	type descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
		Platform    map[string]string `json:"platform,omitempty"`
	}
	blobs := map[string][]byte{}
	add := func(mediaType string, data []byte) descriptor {
		sum := sha256.Sum256(data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = data
		return descriptor{MediaType: mediaType, Digest: d, Size: len(data)}
	}
	layerDesc := add("application/vnd.oci.image.layer.v1.tar", layer)
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": cfg.Entrypoint,
			"Cmd":        cfg.Cmd,
			"Env":        cfg.Env,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDesc.Digest}},
	})
	if err != nil {
		return err
	}
	configDesc := add("application/vnd.oci.image.config.v1+json", config)
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        configDesc,
		"layers":        []descriptor{layerDesc},
	})
	if err != nil {
		return err
	}
	manifestDesc := add("application/vnd.oci.image.manifest.v1+json", manifest)
	manifestDesc.Platform = map[string]string{"architecture": runtime.GOARCH, "os": "linux"}
	manifestDesc.Annotations = map[string]string{
		"io.containerd.image.name":          ref,
		"org.opencontainers.image.ref.name": ref,
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []descriptor{manifestDesc},
	})
	if err != nil {
		return err
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(name string, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := put("index.json", index); err != nil {
		return err
	}
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	for _, d := range digests {
		if err := put("blobs/sha256/"+d[len("sha256:"):], blobs[d]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// images are the files the engines import, made once per run.
type images struct {
	layer        string // tar of the busybox rootfs, for `podman import`
	archive      string // OCI archive of imageRef
	pauseArchive string // OCI archive of pauseImageRef
}

var (
	builtImages    images
	builtImagesErr error
	buildImages    = sync.OnceFunc(func() {
		builtImages, builtImagesErr = makeImages(filepath.Join(env.workdir, "images"))
	})
)

// testImages returns the image files, making them on first use.
func testImages(t *testing.T) images {
	t.Helper()
	buildImages()
	if builtImagesErr != nil {
		t.Fatalf("build images: %v", builtImagesErr)
	}
	return builtImages
}

func makeImages(dir string) (images, error) {
	im := images{
		layer:        filepath.Join(dir, "rootfs.tar"),
		archive:      filepath.Join(dir, "busybox.oci.tar"),
		pauseArchive: filepath.Join(dir, "pause.oci.tar"),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return im, err
	}
	var layer bytes.Buffer
	if err := layerTar(&layer, env.rootfs, nil); err != nil {
		return im, err
	}
	if err := os.WriteFile(im.layer, layer.Bytes(), 0o644); err != nil {
		return im, err
	}
	if err := writeOCIArchive(im.archive, imageRef, layer.Bytes(), imageConfig{
		Cmd: []string{"/bin/sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}); err != nil {
		return im, fmt.Errorf("busybox image: %w", err)
	}
	var pause bytes.Buffer
	if err := layerTar(&pause, env.rootfs, map[string]string{"catatonit": catatonitPath}); err != nil {
		return im, err
	}
	if err := writeOCIArchive(im.pauseArchive, pauseImageRef, pause.Bytes(), imageConfig{
		Entrypoint: []string{"/catatonit", "-P"},
	}); err != nil {
		return im, fmt.Errorf("pause image: %w", err)
	}
	return im, nil
}

// catatonitPath is a static init that has a pause mode; Debian's catatonit
// package installs it here.
const catatonitPath = "/usr/bin/catatonit"
