package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LoadSpec reads <bundle>/config.json. Unknown fields are accepted: newer
// spec versions add fields and runtimes are expected to ignore them.
func LoadSpec(bundle string) (*specs.Spec, error) {
	st, err := os.Stat(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, unwrapPath(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("bundle %s: not a directory", bundle)
	}
	name := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %s", name, describeJSONError(data, err))
	}
	return &spec, nil
}

// unwrapPath drops the "stat <path>" prefix of an *os.PathError because the
// callers already name the path, while keeping the errno for errors.Is.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// describeJSONError adds the line and column to decoder errors that carry
// only a byte offset, which is useless to someone editing the file.
func describeJSONError(data []byte, err error) string {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 || offset > int64(len(data)) {
		return err.Error()
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return fmt.Sprintf("line %d, column %d (offset %d): %v", line, col, offset, err)
}
