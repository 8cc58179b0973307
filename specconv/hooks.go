package specconv

import (
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
)

func convertHooks(spec *specs.Spec, c *configs.Config) error {
	h := spec.Hooks
	if h == nil {
		return nil
	}
	lists := []struct {
		name string
		in   []specs.Hook
		out  *[]configs.Hook
	}{
		// prestart is deprecated but still written by older tools.
		{"prestart", h.Prestart, &c.Hooks.Prestart},
		{"createRuntime", h.CreateRuntime, &c.Hooks.CreateRuntime},
		{"createContainer", h.CreateContainer, &c.Hooks.CreateContainer},
		{"startContainer", h.StartContainer, &c.Hooks.StartContainer},
		{"poststart", h.Poststart, &c.Hooks.Poststart},
		{"poststop", h.Poststop, &c.Hooks.Poststop},
	}
	for _, l := range lists {
		for i, hook := range l.in {
			p := index("hooks."+l.name, i)
			if !filepath.IsAbs(hook.Path) {
				return fieldErr(p+".path", "%q must be absolute", hook.Path)
			}
			for j, kv := range hook.Env {
				if err := checkEnv(kv); err != nil {
					return fieldErr(index(p+".env", j), "%w", err)
				}
			}
			out := configs.Hook{
				Path: hook.Path,
				Args: append([]string(nil), hook.Args...),
				Env:  append([]string(nil), hook.Env...),
			}
			if hook.Timeout != nil {
				if *hook.Timeout <= 0 {
					return fieldErr(p+".timeout", "must be greater than 0, got %d", *hook.Timeout)
				}
				out.Timeout = *hook.Timeout
			}
			*l.out = append(*l.out, out)
		}
	}
	return nil
}
