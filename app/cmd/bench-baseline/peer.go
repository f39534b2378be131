package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/cache/v9"
	"github.com/sirupsen/logrus"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
)

// peer is what a Go developer would write instead of this platform (mode peer): gin, GORM and
// github.com/go-redis/cache (msgpack values, singleflight on a miss), the product cached in Redis
// for -peer-ttl. It has gin's recovery but no access log.
type peer struct {
	db    *gorm.DB
	cache *cache.Cache
	ttl   time.Duration
	key   string // key prefix
	log   *logrus.Entry
}

// newPeer opens GORM on o.databaseURL (o.maxConns connections) and go-redis/cache on o.redisAddr
// with product-service's Redis settings. The returned stop closes both.
func newPeer(o options, log *logrus.Entry) (http.Handler, func(), error) {
	db, err := gorm.Open(postgres.Open(o.databaseURL), &gorm.Config{Logger: gormlogger.Discard})
	if err != nil {
		return nil, nil, fmt.Errorf("open gorm: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("open gorm: %w", err)
	}
	sqlDB.SetMaxOpenConns(o.maxConns)
	sqlDB.SetMaxIdleConns(o.maxConns)
	rdb := newRedis(o)
	p := &peer{
		db:    db,
		cache: cache.New(&cache.Options{Redis: rdb}),
		ttl:   o.peerTTL,
		key:   o.redisPrefix,
		log:   log,
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/api/v1/products/:id", p.product)
	stop := func() {
		_ = rdb.Close()
		_ = sqlDB.Close()
	}
	return r, stop, nil
}

// product answers GET /api/v1/products/:id from the cache, loading it once on a miss.
func (p *peer) product(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		c.String(http.StatusBadRequest, "id must be a positive integer")
		return
	}
	ctx := c.Request.Context()
	var prod catalog.Product
	err = p.cache.Once(&cache.Item{
		Ctx:   ctx,
		Key:   key(p.key, id),
		Value: &prod,
		TTL:   p.ttl,
		Do:    func(*cache.Item) (any, error) { return p.load(ctx, id) },
	})
	if errors.Is(err, catalog.ErrNotFound) {
		c.String(http.StatusNotFound, "product not found")
		return
	}
	if err != nil {
		p.log.WithContext(ctx).WithFields(logrus.Fields{"product_id": id, "error": err.Error()}).Error("load product failed")
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	c.JSON(http.StatusOK, prod)
}

// load runs the service's statement through GORM.
func (p *peer) load(ctx context.Context, id int64) (catalog.Product, error) {
	row := p.db.WithContext(ctx).Raw(pgstore.DetailSQL, id).Row()
	prod, err := scanProduct(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.Product{}, fmt.Errorf("load product %d: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return catalog.Product{}, fmt.Errorf("load product %d: %w", id, err)
	}
	return prod, nil
}
