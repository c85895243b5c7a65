/*
 * gdal_DUCH.cpp: the GDAL glue of the DUCH driver (gdal_DUCH.so).
 *
 * Only what GDAL needs C++ for: the dataset and layer classes, Identify / Open /
 * CreateCopy, and GDALRegister_DUCH. Options, indexing, searching and building the
 * features are C calls in duch_driver.c (see its header comment for how it works).
 *
 *   gdal_translate -of DUCH scene.tif DUCH:archive.sqlite [-co MODEL=...]  index a scene
 *   ogrinfo DUCH:archive.sqlite -oo QUERY="river" -oo K=10               query: hits layer
 */
#include "config.h"

#include "duch_driver.h"

#include "gdal_priv.h"
#include "ogrsf_frmts.h"

#include <memory>
#include <vector>

namespace
{

/* The hits of one query: an in-memory list of features, best first (FID = rank). */
class DUCHLayer final : public OGRLayer
{
    OGRFeatureDefn *m_poDefn; /* one reference held */
    std::vector<std::unique_ptr<OGRFeature>> m_apoFeatures;
    size_t m_iNext = 0;

  public:
    explicit DUCHLayer(OGRFeatureDefnH hDefn)
        : m_poDefn(OGRFeatureDefn::FromHandle(hDefn))
    {
        SetDescription(m_poDefn->GetName());
    }
    ~DUCHLayer() override { m_poDefn->Release(); }

    void Add(OGRFeatureH hFeature)
    {
        m_apoFeatures.emplace_back(OGRFeature::FromHandle(hFeature));
    }

    OGRFeatureDefn *GetLayerDefn() override { return m_poDefn; }
    void ResetReading() override { m_iNext = 0; }

    OGRFeature *GetNextFeature() override
    {
        while (m_iNext < m_apoFeatures.size())
        {
            OGRFeature *poFeature = m_apoFeatures[m_iNext++].get();
            if ((m_poFilterGeom == nullptr ||
                 FilterGeometry(poFeature->GetGeometryRef())) &&
                (m_poAttrQuery == nullptr || m_poAttrQuery->Evaluate(poFeature)))
                return poFeature->Clone();
        }
        return nullptr;
    }

    OGRFeature *GetFeature(GIntBig nFID) override
    {
        for (const auto &poFeature : m_apoFeatures)
            if (poFeature->GetFID() == nFID)
                return poFeature->Clone();
        return nullptr;
    }

    GIntBig GetFeatureCount(int bForce) override
    {
        if (m_poFilterGeom == nullptr && m_poAttrQuery == nullptr)
            return static_cast<GIntBig>(m_apoFeatures.size());
        return OGRLayer::GetFeatureCount(bForce);
    }

    int TestCapability(const char *pszCap) override
    {
        if (EQUAL(pszCap, OLCFastFeatureCount))
            return m_poFilterGeom == nullptr && m_poAttrQuery == nullptr;
        return EQUAL(pszCap, OLCRandomRead) || EQUAL(pszCap, OLCStringsAsUTF8);
    }
};

/* A DUCH: dataset: the hits layer of a query, or (returned by CreateCopy) the archive
 * with no layer. Read-only. */
class DUCHDataset final : public GDALDataset
{
    std::unique_ptr<DUCHLayer> m_poLayer;

  public:
    int GetLayerCount() override { return m_poLayer ? 1 : 0; }
    OGRLayer *GetLayer(int i) override { return i == 0 ? m_poLayer.get() : nullptr; }
    int TestCapability(const char *) override { return FALSE; }

    static int Identify(GDALOpenInfo *poOpenInfo);
    static GDALDataset *Open(GDALOpenInfo *poOpenInfo);
    static GDALDataset *CreateCopy(const char *pszFilename, GDALDataset *poSrcDS,
                                   int bStrict, char **papszOptions,
                                   GDALProgressFunc pfnProgress, void *pProgressData);
};

/* Fast reject: the name only, never the file (GDAL asks every plugin about every file). */
int DUCHDataset::Identify(GDALOpenInfo *poOpenInfo)
{
    return duch_gdal_identify(poOpenInfo->pszFilename);
}

GDALDataset *DUCHDataset::Open(GDALOpenInfo *poOpenInfo)
{
    if (!Identify(poOpenInfo))
        return nullptr;
    if (poOpenInfo->eAccess == GA_Update)
    {
        CPLError(CE_Failure, CPLE_NotSupported,
                 "DUCH: no update access: '%s' is the read-only result of a query "
                 "(index scenes with gdal_translate -of DUCH)",
                 poOpenInfo->pszFilename);
        return nullptr;
    }
    if ((poOpenInfo->nOpenFlags & GDAL_OF_VECTOR) == 0)
    {
        CPLError(CE_Failure, CPLE_NotSupported,
                 "DUCH: '%s' is a vector dataset (the hits of a query): open it with "
                 "ogrinfo, ogr2ogr or as a vector layer",
                 poOpenInfo->pszFilename);
        return nullptr;
    }

    duch_search_query sQuery;
    if (!duch_gdal_parse_open_options(poOpenInfo->papszOpenOptions, &sQuery))
        return nullptr;
    duch_hits *psHits =
        duch_gdal_search(duch_gdal_archive_path(poOpenInfo->pszFilename), &sQuery);
    if (psHits == nullptr)
        return nullptr;

    OGRSpatialReference *poSRS = new OGRSpatialReference();
    poSRS->importFromEPSG(4326);
    poSRS->SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    OGRSpatialReferenceH hSRS = OGRSpatialReference::ToHandle(poSRS);

    auto poLayer = std::make_unique<DUCHLayer>(duch_gdal_hits_defn("hits", hSRS));
    OGRFeatureDefnH hDefn = OGRFeatureDefn::ToHandle(poLayer->GetLayerDefn());
    bool bOK = true;
    for (int i = 0; bOK && i < psHits->n; i++)
    {
        OGRFeatureH hFeature = duch_gdal_hit_feature(hDefn, hSRS, &psHits->hits[i]);
        if (hFeature)
            poLayer->Add(hFeature);
        else
            bOK = false;
    }
    const int nBits = psHits->bits;
    const CPLString osModelId(psHits->model_id ? psHits->model_id : "");
    duch_hits_free(psHits);
    poSRS->Release();
    if (!bOK)
        return nullptr;

    auto poDS = new DUCHDataset();
    poDS->SetDescription(poOpenInfo->pszFilename);
    for (const char *pszKey : {"QUERY", "IMAGE", "K", "BBOX"})
    {
        const char *pszVal = CSLFetchNameValue(poOpenInfo->papszOpenOptions, pszKey);
        if (pszVal)
            poDS->SetMetadataItem(pszKey, pszVal);
    }
    poDS->SetMetadataItem("BITS", CPLSPrintf("%d", nBits));
    if (!osModelId.empty())
        poDS->SetMetadataItem("MODEL_ID", osModelId.c_str());
    poDS->m_poLayer = std::move(poLayer);
    return poDS;
}

GDALDataset *DUCHDataset::CreateCopy(const char *pszFilename, GDALDataset *poSrcDS,
                                     int /* bStrict */, char **papszOptions,
                                     GDALProgressFunc pfnProgress, void *pProgressData)
{
    GDALDriver *poSrcDriver = poSrcDS->GetDriver();
    const char *pszScene = poSrcDS->GetDescription();
    if (!duch_gdal_check_source(pszScene,
                                poSrcDriver ? poSrcDriver->GetDescription() : nullptr))
        return nullptr;

    duch_ingest_stats sStats;
    if (!duch_gdal_ingest(duch_gdal_archive_path(pszFilename), pszScene, papszOptions,
                          pfnProgress, pProgressData, &sStats))
        return nullptr;

    /* GDAL wants a dataset back: the archive, without a query, has no layer. */
    auto poDS = new DUCHDataset();
    poDS->SetDescription(pszFilename);
    poDS->SetMetadataItem("SCENES_INDEXED", CPLSPrintf("%d", sStats.scenes_done));
    poDS->SetMetadataItem("SCENES_SKIPPED", CPLSPrintf("%d", sStats.scenes_skipped));
    poDS->SetMetadataItem("TILES", CPLSPrintf("%lld", sStats.tiles));
    return poDS;
}

} // namespace

/* The one exported symbol (the rest is built with -fvisibility=hidden). */
extern "C" __attribute__((visibility("default"))) void GDALRegister_DUCH(void);

void GDALRegister_DUCH(void)
{
    if (!GDAL_CHECK_VERSION("DUCH"))
        return;
    if (GDALGetDriverByName("DUCH") != nullptr)
        return;

    GDALDriver *poDriver = new GDALDriver();
    poDriver->SetDescription("DUCH");
    poDriver->SetMetadataItem(GDAL_DMD_LONGNAME,
                              "duch text-to-tile search archive (DUCH binary codes)");
    /* Raster: gdal_translate -of DUCH indexes a scene. Vector: DUCH:archive opens hits. */
    poDriver->SetMetadataItem(GDAL_DCAP_RASTER, "YES");
    poDriver->SetMetadataItem(GDAL_DCAP_VECTOR, "YES");
    poDriver->SetMetadataItem(GDAL_DCAP_OPEN, "YES");
    poDriver->SetMetadataItem(GDAL_DCAP_CREATECOPY, "YES");
    poDriver->SetMetadataItem(GDAL_DMD_CONNECTION_PREFIX, DUCH_GDAL_PREFIX);
    poDriver->SetMetadataItem(GDAL_DMD_CREATIONOPTIONLIST, duch_gdal_creation_option_list);
    poDriver->SetMetadataItem(GDAL_DMD_OPENOPTIONLIST, duch_gdal_open_option_list);
    poDriver->pfnIdentify = DUCHDataset::Identify;
    poDriver->pfnOpen = DUCHDataset::Open;
    poDriver->pfnCreateCopy = DUCHDataset::CreateCopy;
    GetGDALDriverManager()->RegisterDriver(poDriver);
}
