/* model_header: duch_model.h compiles as plain C (this file is built with -std=c99
 * -pedantic) and the library's table is complete, with sane training defaults. */
#include "model_common.h"

int main(void)
{
    const duch_model_api *api = model_api();
    CHECK(api->open && api->open_blob && api->close && api->errmsg && api->bits &&
          api->input_size && api->tile_ground_m && api->id && api->set_threads &&
          api->encode_images && api->encode_texts && api->info_json && api->train_options_init &&
          api->train && api->eval);
    duch_train_options o;
    api->train_options_init(&o);
    CHECK(o.bits == 64 && o.epochs > 0 && o.batch_size > 1 && o.input_size >= 16);
    CHECK(o.w_inter > 0 && o.w_intra_img > 0 && o.w_intra_txt > 0 && o.w_adv > 0 &&
          o.w_quant > 0 && o.w_balance > 0 && o.temperature > 0);
    CHECK(o.tile_ground_m > 78.0 && o.tile_ground_m < 78.1);
    CHECK(o.crop_min > 0 && o.crop_min <= 1 && o.epoch_loss == NULL);
    CHECK(o.splits == 1);
    /* NULL handles and bad arguments are errors, never crashes */
    CHECK(api->errmsg(NULL) != NULL);
    CHECK(api->bits(NULL) == 0);
    CHECK(api->open(NULL, NULL) == DUCH_INVALID);
    duch_model *m = NULL;
    CHECK(api->open(NULL, &m) == DUCH_INVALID);
    CHECK(m != NULL && strlen(api->errmsg(m)) > 0);
    api->close(m);
    char err[256];
    o.data_dir = "/nonexistent/duch-data";
    o.output = "/nonexistent/x.duchm";
    CHECK(api->train(&o, NULL, NULL, err, sizeof err) == DUCH_IO);
    CHECK(strstr(err, "captions.json") != NULL);
    if (model_failures)
        return 1;
    printf("ok: duch_model.h as C, API table complete\n");
    return 0;
}
