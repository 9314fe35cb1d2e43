package kafka

import (
	"fmt"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// NewLogger returns a kgo.Logger that writes franz-go's messages to l, for
// kgo.WithLogger. franz-go's level follows l's level (zerolog trace and
// debug → debug, info → info, warn → warn, error and above → error,
// disabled → none), read once here. Key-value pairs become fields; a value
// that is an error is logged with Err-style formatting. franz-go never
// passes SASL secrets to its logger.
func NewLogger(l zerolog.Logger) kgo.Logger {
	var lvl kgo.LogLevel
	switch zl := l.GetLevel(); {
	case zl == zerolog.Disabled:
		lvl = kgo.LogLevelNone
	case zl <= zerolog.DebugLevel:
		lvl = kgo.LogLevelDebug
	case zl == zerolog.InfoLevel:
		lvl = kgo.LogLevelInfo
	case zl == zerolog.WarnLevel:
		lvl = kgo.LogLevelWarn
	case zl == zerolog.NoLevel:
		lvl = kgo.LogLevelInfo
	default:
		lvl = kgo.LogLevelError
	}
	return zlog{l: l, lvl: lvl}
}

type zlog struct {
	l   zerolog.Logger
	lvl kgo.LogLevel
}

func (z zlog) Level() kgo.LogLevel { return z.lvl }

func (z zlog) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var e *zerolog.Event
	switch level {
	case kgo.LogLevelError:
		e = z.l.Error()
	case kgo.LogLevelWarn:
		e = z.l.Warn()
	case kgo.LogLevelInfo:
		e = z.l.Info()
	case kgo.LogLevelDebug:
		e = z.l.Debug()
	default:
		return
	}
	for i := 0; i+1 < len(keyvals); i += 2 {
		k, ok := keyvals[i].(string)
		if !ok {
			k = fmt.Sprint(keyvals[i])
		}
		if err, isErr := keyvals[i+1].(error); isErr {
			e = e.AnErr(k, err)
			continue
		}
		e = e.Interface(k, keyvals[i+1])
	}
	if len(keyvals)%2 == 1 {
		e = e.Interface("extra", keyvals[len(keyvals)-1])
	}
	e.Msg(msg)
}
