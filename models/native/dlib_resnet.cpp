// Reads dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) and hands its
// layers to Rust, which runs the same network on OpenVINO; and cuts dlib's aligned face chip,
// so the chip fed to OpenVINO is the exact one dlib's own network would see.
//
// Only dlib's public API is used (deserialize, visit_computational_layers, the layers' own
// serialize for affine_, get_face_chip_details, extract_image_chip). Nothing throws across the
// C boundary: every entry point catches and reports through `error`.

#include <dlib/dnn.h>
#include <dlib/image_processing.h>

#include <cstring>
#include <exception>
#include <sstream>
#include <string>

using namespace dlib;

// The network definition dlib's face recognition example declares for this file; deserialize
// refuses a file whose layers differ.
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;
template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;
template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;
template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;
using anet_type = loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<
    alevel4<max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

extern "C" {
// One computational layer, output side first (dlib's visiting order). kind: 0 convolution
// (dims: filters, rows, cols, stride, padding; params: filters then biases), 1 affine
// (dims: channels; params: gammas then betas), 2 fully connected without bias (dims: outputs;
// params: inputs x outputs, row-major).
typedef void (*livegate_layer_fn)(void* ctx, int kind, const long* dims, size_t n_dims,
                                  const float* params, size_t n_params);
}

namespace {
void report(char* error, size_t error_len, const char* what) {
    if (error && error_len > 0) {
        std::strncpy(error, what, error_len - 1);
        error[error_len - 1] = '\0';
    }
}

struct Visitor {
    void* ctx;
    livegate_layer_fn emit;
    void send(int kind, std::initializer_list<long> dims, const tensor& t) {
        std::vector<long> d(dims);
        emit(ctx, kind, d.data(), d.size(), t.host(), t.size());
    }
    template <long N, long R, long C, int SY, int SX, int PY, int PX>
    void operator()(con_<N, R, C, SY, SX, PY, PX>& l) {
        send(0, {N, R, C, SY, PY}, l.get_layer_params());
    }
    void operator()(affine_& l) {
        // affine_ keeps its gammas and betas private; its own serialization writes a version
        // string, then one tensor holding both.
        std::stringstream s;
        serialize(l, s);
        std::string version;
        resizable_tensor params;
        deserialize(version, s);
        deserialize(params, s);
        send(1, {(long)(params.size() / 2)}, params);
    }
    template <unsigned long N, fc_bias_mode M>
    void operator()(fc_<N, M>& l) {
        send(2, {(long)N}, l.get_layer_params());
    }
    template <typename T>
    void operator()(T&) {}
};
}  // namespace

extern "C" int livegate_dlib_resnet_layers(const char* path, void* ctx, livegate_layer_fn emit,
                                           char* error, size_t error_len) {
    try {
        anet_type net;
        deserialize(path) >> net;
        Visitor v{ctx, emit};
        visit_computational_layers(net, [&](auto& l) { v(l); });
        return 0;
    } catch (const std::exception& e) {
        report(error, error_len, e.what());
    } catch (...) {
        report(error, error_len, "unknown dlib error");
    }
    return 1;
}

// Cuts dlib's 150 px face chip (25% padding) from a packed RGB image, aligned on the 5 points
// (x, y pairs in dlib's order), into `chip` (150 * 150 * 3 bytes, packed RGB).
extern "C" int livegate_dlib_face_chip(const unsigned char* rgb, long width, long height,
                                       const long* points, size_t n_points, unsigned char* chip,
                                       char* error, size_t error_len) {
    try {
        matrix<rgb_pixel> image(height, width);
        std::memcpy(&image(0, 0), rgb, (size_t)width * (size_t)height * 3);
        std::vector<point> parts;
        for (size_t i = 0; i < n_points; i++) parts.emplace_back(points[2 * i], points[2 * i + 1]);
        full_object_detection shape(rectangle(0, 0, width - 1, height - 1), parts);
        matrix<rgb_pixel> out;
        extract_image_chip(image, get_face_chip_details(shape, 150, 0.25), out);
        if (out.nr() != 150 || out.nc() != 150) {
            report(error, error_len, "dlib cut a chip of the wrong size");
            return 1;
        }
        std::memcpy(chip, &out(0, 0), 150 * 150 * 3);
        return 0;
    } catch (const std::exception& e) {
        report(error, error_len, e.what());
    } catch (...) {
        report(error, error_len, "unknown dlib error");
    }
    return 1;
}
