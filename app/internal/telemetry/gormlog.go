package telemetry

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sirupsen/logrus"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
)

// GORMLogger sends GORM's messages through logrus: statements slower than slow at warn with their
// SQL (placeholders, never the values), rows and elapsed time; failed statements at error, except
// "record not found", which is an answer, not an error.
func GORMLogger(log *logrus.Logger, slow time.Duration) gormlogger.Interface {
	return gormLog{log: log, slow: slow}
}

type gormLog struct {
	log  *logrus.Logger
	slow time.Duration
}

func (g gormLog) LogMode(gormlogger.LogLevel) gormlogger.Interface { return g }

func (g gormLog) Info(ctx context.Context, msg string, args ...any) {
	g.log.WithContext(ctx).WithField("args", args).Info("gorm: " + msg)
}

func (g gormLog) Warn(ctx context.Context, msg string, args ...any) {
	g.log.WithContext(ctx).WithField("args", args).Warn("gorm: " + msg)
}

func (g gormLog) Error(ctx context.Context, msg string, args ...any) {
	g.log.WithContext(ctx).WithField("args", args).Error("gorm: " + msg)
}

// ParamsFilter keeps the values out of the SQL GORM hands to Trace.
func (g gormLog) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

// explainedPlaceholder is how GORM's PostgreSQL dialector prints a placeholder it has no value
// for ("$1$"); Trace prints it back as "$1".
var explainedPlaceholder = regexp.MustCompile(`\$(\d+)\$`)

// Trace logs a statement when it failed or was slow. Integrity violations (SQLSTATE class 23: a
// duplicate SKU, an unknown category) are answers to bad input, reported to the client as 4xx,
// not database failures.
func (g gormLog) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	var pgErr *pgconn.PgError
	failed := err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, context.Canceled) &&
		!(errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "23"))
	if !failed && elapsed < g.slow {
		return
	}
	sql, rows := fc()
	sql = explainedPlaceholder.ReplaceAllString(sql, "$$$1")
	entry := g.log.WithContext(ctx).WithFields(logrus.Fields{
		"sql": sql, "rows": rows, "elapsed_ms": float64(elapsed.Microseconds()) / 1000,
	})
	if failed {
		entry.WithError(err).Error("database statement failed")
		return
	}
	entry.WithField("slow_threshold_ms", g.slow.Milliseconds()).Warn("slow database statement")
}
