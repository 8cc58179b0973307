package configs

import (
	"github.com/mailru/easyjson/buffer"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// The stored form's encoder and decoder are generated (config_easyjson.go,
// `make generate`): encoding/json builds its own by reflection on first use
// in each process, and barco's commands are short-lived processes that each
// read or write the stored config once.

// Encode gives the stored form of cfg: JSON with the Go field names as keys.
func Encode(cfg *Config) ([]byte, error) {
	// One buffer that holds a usual config whole: the writer's own starts
	// at 128 bytes and grows by chunks, copied together at the end.
	return encode(cfg, 16<<10)
}

func encode(cfg *Config, bufSize int) ([]byte, error) {
	w := jwriter.Writer{Buffer: buffer.Buffer{Buf: make([]byte, 0, bufSize)}}
	cfg.MarshalEasyJSON(&w)
	return w.BuildBytes()
}

// Decode reads a config stored by Encode.
func Decode(data []byte, cfg *Config) error {
	l := jlexer.Lexer{Data: data}
	cfg.UnmarshalEasyJSON(&l)
	return l.Error()
}
