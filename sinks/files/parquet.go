package files

import (
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/creditflow/creditflow/schemas"
)

// ParquetCreatedBy is the created_by string of the Parquet files: fixed, so
// that the same rows give the same bytes.
const ParquetCreatedBy = "creditflow (" + parquet.DefaultCreatedBy + ")"

// parquetBatchRows is the number of rows per record batch and row group.
const parquetBatchRows = 1 << 16

// Parquet column types; see the package documentation.
var (
	creditsType   = &arrow.Decimal128Type{Precision: 24, Scale: 6}
	unitPriceType = &arrow.Decimal128Type{Precision: 38, Scale: schemas.MaxScale}
	instantType   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
)

func moneyType(currencyDecimals int) *arrow.Decimal128Type {
	return &arrow.Decimal128Type{Precision: 38, Scale: int32(currencyDecimals)}
}

// LineItemsArrowSchema returns the Arrow schema of line_items.parquet for a
// currency with currencyDecimals decimals (0..18).
func LineItemsArrowSchema(currencyDecimals int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "tenant", Type: arrow.BinaryTypes.String},
		{Name: "period_start", Type: instantType},
		{Name: "period_end", Type: instantType},
		{Name: "kind", Type: arrow.BinaryTypes.String},
		{Name: "description", Type: arrow.BinaryTypes.String},
		{Name: "quantity", Type: creditsType},
		{Name: "unit_price", Type: unitPriceType},
		{Name: "amount", Type: moneyType(currencyDecimals)},
		{Name: "currency", Type: arrow.BinaryTypes.String},
		{Name: "charged_at_purchase", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
}

// ClosesArrowSchema returns the Arrow schema of period_closes.parquet for a
// currency with currencyDecimals decimals (0..18).
func ClosesArrowSchema(currencyDecimals int) *arrow.Schema {
	money := moneyType(currencyDecimals)
	return arrow.NewSchema([]arrow.Field{
		{Name: "tenant", Type: arrow.BinaryTypes.String},
		{Name: "period_start", Type: instantType},
		{Name: "period_end", Type: instantType},
		{Name: "plan", Type: arrow.BinaryTypes.String},
		{Name: "rollover_in", Type: creditsType},
		{Name: "included", Type: creditsType},
		{Name: "grant_credits_available", Type: creditsType},
		{Name: "available", Type: creditsType},
		{Name: "consumed", Type: creditsType},
		{Name: "overage", Type: creditsType},
		{Name: "billable_overage", Type: creditsType},
		{Name: "uncollected_overage", Type: creditsType},
		{Name: "overage_amount", Type: money},
		{Name: "rollover_out", Type: creditsType},
		{Name: "expired_credits", Type: creditsType},
		{Name: "recognized_revenue", Type: money},
		{Name: "deferred_revenue_end", Type: money},
		{Name: "currency", Type: arrow.BinaryTypes.String},
	}, nil)
}

// WriteLineItemsParquet writes line_items.parquet to path: the columns and
// row order of WriteLineItemsCSV, with the types of LineItemsArrowSchema.
// The same rows give the same bytes. rows is not modified. An amount with
// more significant decimals than currencyDecimals, or an instant that is not
// a whole number of microseconds, is an error, and then no file is written.
func WriteLineItemsParquet(path string, rows []schemas.LineItem, currencyDecimals int) error {
	if err := checkDecimals(currencyDecimals); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	sorted := sortedLineItems(rows)
	return writeParquet(path, LineItemsArrowSchema(currencyDecimals), len(sorted), func(b *array.RecordBuilder, i int) error {
		li := &sorted[i]
		amount, err := money128(li.Amount, currencyDecimals)
		if err != nil {
			return fmt.Errorf("line item %s %s of %s: %w", li.Kind, li.Description, li.Tenant, err)
		}
		var errs [2]error
		b.Field(0).(*array.StringBuilder).Append(li.Tenant)
		errs[0] = appendInstant(b.Field(1), li.PeriodStart)
		errs[1] = appendInstant(b.Field(2), li.PeriodEnd)
		b.Field(3).(*array.StringBuilder).Append(string(li.Kind))
		b.Field(4).(*array.StringBuilder).Append(li.Description)
		b.Field(5).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(li.Quantity)))
		b.Field(6).(*array.Decimal128Builder).Append(unitPrice128(li.UnitPrice))
		b.Field(7).(*array.Decimal128Builder).Append(amount)
		b.Field(8).(*array.StringBuilder).Append(li.Currency)
		b.Field(9).(*array.BooleanBuilder).Append(li.ChargedAtPurchase)
		for _, err := range errs {
			if err != nil {
				return fmt.Errorf("line item %s %s of %s: %w", li.Kind, li.Description, li.Tenant, err)
			}
		}
		return nil
	})
}

// WriteClosesParquet writes period_closes.parquet to path: the columns and
// row order of WriteClosesCSV, with the types of ClosesArrowSchema. The same
// rows give the same bytes. rows is not modified. Money with more
// significant decimals than currencyDecimals, or an instant that is not a
// whole number of microseconds, is an error, and then no file is written.
func WriteClosesParquet(path string, rows []schemas.PeriodClose, currencyDecimals int) error {
	if err := checkDecimals(currencyDecimals); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	sorted := sortedCloses(rows)
	return writeParquet(path, ClosesArrowSchema(currencyDecimals), len(sorted), func(b *array.RecordBuilder, i int) error {
		c := &sorted[i]
		var errs [5]error
		var money [3]decimal128.Num
		money[0], errs[0] = money128(c.OverageAmount, currencyDecimals)
		money[1], errs[1] = money128(c.RecognizedRevenue, currencyDecimals)
		money[2], errs[2] = money128(c.DeferredRevenueEnd, currencyDecimals)
		b.Field(0).(*array.StringBuilder).Append(c.Tenant)
		errs[3] = appendInstant(b.Field(1), c.PeriodStart)
		errs[4] = appendInstant(b.Field(2), c.PeriodEnd)
		b.Field(3).(*array.StringBuilder).Append(c.Plan)
		for j, m := range [...]schemas.Micros{
			c.RolloverIn, c.Included, c.GrantCreditsAvailable, c.Available,
			c.Consumed, c.Overage, c.BillableOverage, c.UncollectedOverage,
		} {
			b.Field(4 + j).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(m)))
		}
		b.Field(12).(*array.Decimal128Builder).Append(money[0])
		b.Field(13).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(c.RolloverOut)))
		b.Field(14).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(c.ExpiredCredits)))
		b.Field(15).(*array.Decimal128Builder).Append(money[1])
		b.Field(16).(*array.Decimal128Builder).Append(money[2])
		b.Field(17).(*array.StringBuilder).Append(c.Currency)
		for _, err := range errs {
			if err != nil {
				return fmt.Errorf("close of %s at %s: %w", c.Tenant, formatTime(c.PeriodStart), err)
			}
		}
		return nil
	})
}

// writeParquet writes n rows, filled into record batches by fill, to path,
// atomically.
func writeParquet(path string, schema *arrow.Schema, n int, fill func(b *array.RecordBuilder, i int) error) error {
	f, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	mem := memory.NewGoAllocator()
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(mem),
		parquet.WithCreatedBy(ParquetCreatedBy),
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(parquetBatchRows),
	)
	// The parquet writer closes a sink that is an io.Closer: hide Close, the
	// file is committed below.
	sink := struct{ io.Writer }{f.File}
	fw, err := pqarrow.NewFileWriter(schema, sink, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for start := 0; start < n; start += parquetBatchRows {
		end := min(n, start+parquetBatchRows)
		b.Reserve(end - start)
		for i := start; i < end; i++ {
			if err := fill(b, i); err != nil {
				fw.Close()
				return fmt.Errorf("write %s: %w", path, err)
			}
		}
		rec := b.NewRecordBatch()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// appendInstant appends t as microseconds since the epoch, refusing finer
// instants.
func appendInstant(b array.Builder, t time.Time) error {
	if t.Nanosecond()%1000 != 0 {
		return fmt.Errorf("instant %s is finer than a microsecond", formatTime(t))
	}
	b.(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixMicro()))
	return nil
}

// unitPrice128 returns d at scale 18; every Decimal fits decimal128(38, 18).
func unitPrice128(d schemas.Decimal) decimal128.Num {
	return decimal128.FromI64(d.Coef).Mul(decimal128.GetScaleMultiplier(schemas.MaxScale - int(d.Scale)))
}

// money128 returns money d at scale n, refusing significant decimals beyond n.
func money128(d schemas.Decimal, n int) (decimal128.Num, error) {
	coef, pad, err := moneyDigits(d, n)
	if err != nil {
		return decimal128.Num{}, err
	}
	return decimal128.FromI64(coef).Mul(decimal128.GetScaleMultiplier(pad)), nil
}
