/*
 * gdal_DUCH.cpp: the GDAL glue of the DUCH driver (gdal_DUCH.so).
 *
 * Only what GDAL needs C++ for: the dataset and layer classes, Identify / Open /
 * CreateCopy, and GDALRegister_DUCH. Options, indexing, searching and building the
 * features are C calls in duch_driver.c (see its header comment for how it works).
 *
 *   gdal_translate -of DUCH scene.tif DUCH:archive.sqlite [-co MODEL=...]  index a scene
 *   ogrinfo DUCH:archive.sqlite -oo QUERY="river" -oo K=10               query: hits layer
 *   gdal_translate DUCH:archive.sqlite -oo QUERY="river" heat.tif         query: heat map
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

/* A DUCH: dataset: for a query, the hits layer (opened as a vector) and the heat map
 * (opened as a raster: one Float32 band read from the in-memory raster duch_gdal_heat()
 * made, whose georeferencing and metadata it shows), or both when both are asked for
 * (QGIS's raster provider asks for every kind); or (returned by CreateCopy) the archive
 * with neither. Read-only. */
class DUCHDataset final : public GDALDataset
{
    std::unique_ptr<DUCHLayer> m_poLayer;
    GDALDataset *m_poHeat = nullptr; /* owned */
    OGRSpatialReference m_oSRS;

    class Band final : public GDALRasterBand
    {
      public:
        Band(DUCHDataset *poDSIn, GDALRasterBand *poHeat)
        {
            poDS = poDSIn;
            nBand = 1;
            eDataType = GDT_Float32;
            nRasterXSize = poDSIn->GetRasterXSize();
            nRasterYSize = poDSIn->GetRasterYSize();
            nBlockXSize = nRasterXSize;
            nBlockYSize = 1;
            SetDescription(poHeat->GetDescription());
            GDALRasterBand::SetMetadata(poHeat->GetMetadata());
        }
        CPLErr IReadBlock(int, int nBlockYOff, void *pData) override
        {
            GDALRasterBand *poHeat = static_cast<DUCHDataset *>(poDS)->m_poHeat->GetRasterBand(1);
            return poHeat->RasterIO(GF_Read, 0, nBlockYOff, nRasterXSize, 1, pData,
                                    nRasterXSize, 1, GDT_Float32, 0, 0, nullptr);
        }
        double GetNoDataValue(int *pbSuccess) override
        {
            if (pbSuccess)
                *pbSuccess = TRUE;
            return DUCH_HEAT_NODATA;
        }
    };

  public:
    ~DUCHDataset() override
    {
        if (m_poHeat)
            GDALClose(GDALDataset::ToHandle(m_poHeat));
    }
    int GetLayerCount() override { return m_poLayer ? 1 : 0; }
    OGRLayer *GetLayer(int i) override { return i == 0 ? m_poLayer.get() : nullptr; }
    int TestCapability(const char *) override { return FALSE; }

    /* take the heat map (a MEM dataset) as this dataset's raster */
    void SetHeat(GDALDataset *poHeat)
    {
        m_poHeat = poHeat;
        nRasterXSize = poHeat->GetRasterXSize();
        nRasterYSize = poHeat->GetRasterYSize();
        const OGRSpatialReference *poSRS = poHeat->GetSpatialRef();
        if (poSRS)
            m_oSRS = *poSRS;
        m_oSRS.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
        for (CSLConstList papszMD = poHeat->GetMetadata(); papszMD && *papszMD; papszMD++)
        {
            char *pszKey = nullptr;
            const char *pszVal = CPLParseNameValue(*papszMD, &pszKey);
            if (pszKey && pszVal)
                SetMetadataItem(pszKey, pszVal);
            CPLFree(pszKey);
        }
        SetBand(1, new Band(this, poHeat->GetRasterBand(1)));
    }
    CPLErr GetGeoTransform(double *padfTransform) override
    {
        return m_poHeat ? m_poHeat->GetGeoTransform(padfTransform)
                        : GDALDataset::GetGeoTransform(padfTransform);
    }
    const OGRSpatialReference *GetSpatialRef() const override
    {
        return m_poHeat && !m_oSRS.IsEmpty() ? &m_oSRS : nullptr;
    }

    static int Identify(GDALOpenInfo *poOpenInfo);
    static GDALDataset *Open(GDALOpenInfo *poOpenInfo);
    static GDALDataset *CreateCopy(const char *pszFilename, GDALDataset *poSrcDS,
                                   int bStrict, char **papszOptions,
                                   GDALProgressFunc pfnProgress, void *pProgressData);
};

/* DUCH: names; and, only in identify-only calls, a plain path that is a duch archive.
 *
 * GDALIdentifyDriver() (which GDALDriver::QuietDelete() uses before a plain-name
 * CreateCopy) passes an open info without a raster or vector flag; GDALOpenEx() always
 * sets at least one. So a plain archive.sqlite is claimed only where it matters -- the
 * delete that would wipe it goes to Delete() below, which refuses -- while every open
 * (ogrinfo archive.sqlite, QGIS) goes on to GDAL's SQLite driver without this driver
 * touching the file. The archive check reads the schema only for files that start with
 * SQLite's header. */
int DUCHDataset::Identify(GDALOpenInfo *poOpenInfo)
{
    if (duch_gdal_identify(poOpenInfo->pszFilename))
        return TRUE;
    if ((poOpenInfo->nOpenFlags & GDAL_OF_KIND_MASK) != 0)
        return FALSE;
    return poOpenInfo->pabyHeader != nullptr && poOpenInfo->nHeaderBytes >= 16 &&
           duch_gdal_is_archive(poOpenInfo->pszFilename, poOpenInfo->pabyHeader,
                                poOpenInfo->nHeaderBytes);
}

/* The driver deletes nothing. A plain path that is a duch archive (what Identify claims)
 * is refused with the message CreateCopy would give, so gdal_translate prints it once;
 * a DUCH: name (a query, not a file: GDAL's CreateCopy asks to delete it before every
 * append) is refused quietly. */
static CPLErr DUCHDelete(const char *pszFilename)
{
    if (duch_gdal_identify(pszFilename))
    {
        CPLDebug("DUCH", "Delete(%s): not deleting (a DUCH: name is never deleted)",
                 pszFilename);
        return CE_Failure;
    }
    if (duch_gdal_is_archive(pszFilename, nullptr, 0))
        duch_gdal_refuse_existing(pszFilename);
    else
        CPLError(CE_Failure, CPLE_NotSupported,
                 "DUCH: '%s' is not a duch archive; the DUCH driver deletes nothing",
                 pszFilename);
    return CE_Failure;
}

GDALDataset *DUCHDataset::Open(GDALOpenInfo *poOpenInfo)
{
    /* Plain paths (a duch archive too) are GDAL's SQLite driver's: no error, so that
     * GDALOpenEx goes on to the next driver. */
    if (!duch_gdal_identify(poOpenInfo->pszFilename))
        return nullptr;
    /* A query's hits are read-only. Asked for update access (QGIS asks first for every
     * vector layer), give the read-only dataset without an error: its layer refuses
     * writes (TestCapability says so, CreateFeature fails). Scenes are indexed with
     * gdal_translate -of DUCH. */
    if (poOpenInfo->eAccess == GA_Update)
        CPLDebug("DUCH", "'%s': the hits of a query are read-only; opened read-only",
                 poOpenInfo->pszFilename);
    duch_search_query sQuery;
    if (!duch_gdal_parse_open_options(poOpenInfo->papszOpenOptions, &sQuery))
        return nullptr;
    const char *pszArchive = duch_gdal_archive_path(poOpenInfo->pszFilename);
    const bool bVector = (poOpenInfo->nOpenFlags & GDAL_OF_VECTOR) != 0;
    const bool bRaster = (poOpenInfo->nOpenFlags & GDAL_OF_RASTER) != 0;
    /* Opened as a raster only (gdal_translate, gdalinfo): the heat map alone. */
    if (!bVector)
    {
        GDALDatasetH hHeat = static_cast<GDALDatasetH>(
            duch_gdal_heat(pszArchive, &sQuery, poOpenInfo->papszOpenOptions));
        if (hHeat == nullptr)
            return nullptr;
        auto poDS = new DUCHDataset();
        poDS->SetDescription(poOpenInfo->pszFilename);
        poDS->SetHeat(GDALDataset::FromHandle(hHeat));
        return poDS;
    }
    duch_hits *psHits = duch_gdal_search(pszArchive, &sQuery);
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
    const CPLString osExplain(psHits->text_explain ? psHits->text_explain : "");
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
    if (!osExplain.empty()) /* what the model made of QUERY: used, mapped, ignored words */
        poDS->SetMetadataItem("QUERY_WORDS", osExplain.c_str());
    poDS->m_poLayer = std::move(poLayer);
    /* Asked for both (QGIS's raster provider, GDALOpenEx without a kind): the heat map
     * too; when it cannot be made, the hits still open, with a warning. */
    if (bRaster)
    {
        CPLPushErrorHandler(CPLQuietErrorHandler);
        GDALDatasetH hHeat = static_cast<GDALDatasetH>(
            duch_gdal_heat(pszArchive, &sQuery, poOpenInfo->papszOpenOptions));
        CPLPopErrorHandler();
        if (hHeat)
            poDS->SetHeat(GDALDataset::FromHandle(hHeat));
        else
            CPLError(CE_Warning, CPLE_AppDefined, "%s (the hits layer opened without it)",
                     CPLGetLastErrorMsg());
    }
    return poDS;
}

GDALDataset *DUCHDataset::CreateCopy(const char *pszFilename, GDALDataset *poSrcDS,
                                     int /* bStrict */, char **papszOptions,
                                     GDALProgressFunc pfnProgress, void *pProgressData)
{
    /* However it returns, the refusals of this run's destination end here. */
    struct RefusalEpisode
    {
        ~RefusalEpisode() { duch_gdal_refusal_done(); }
    } oEpisode;

    GDALDriver *poSrcDriver = poSrcDS->GetDriver();
    const char *pszScene = poSrcDS->GetDescription();
    if (!duch_gdal_check_source(pszScene,
                                poSrcDriver ? poSrcDriver->GetDescription() : nullptr))
        return nullptr;

    /* Every option, BANDS against the source, before anything is created. */
    duch_gdal_creation sCreation;
    if (!duch_gdal_parse_creation_options(papszOptions, poSrcDS->GetRasterCount(),
                                          &sCreation))
        return nullptr;

    /* A plain name that is an existing archive: GDAL has asked Delete() to remove it
     * already (refused); do not start a new archive over it either. */
    const char *pszArchive = duch_gdal_archive_path(pszFilename);
    if (!duch_gdal_identify(pszFilename) && !sCreation.append &&
        duch_gdal_is_archive(pszArchive, nullptr, 0))
    {
        duch_gdal_refuse_existing(pszArchive);
        return nullptr;
    }

    duch_ingest_stats sStats;
    if (!duch_gdal_ingest(pszArchive, pszScene, &sCreation, pfnProgress, pProgressData,
                          &sStats))
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
    poDriver->pfnDelete = DUCHDelete;
    GetGDALDriverManager()->RegisterDriver(poDriver);
}
