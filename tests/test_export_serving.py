"""export/serving.py: an export's output levels become upscale.py's uint8 image."""

import numpy as np

from export import serving as export_serving


def test_to_uint8_rounds_clips_and_greys():
    levels = np.array([[[-3.0, 0.5, 1.5], [254.6, 255.4, 300.0]]], np.float32)
    np.testing.assert_array_equal(export_serving.to_uint8(levels), [[[0, 0, 2], [255, 255, 255]]])
    grey = export_serving.to_uint8(np.full((1, 1, 3), 100.4, np.float32), grey=True)
    assert grey.shape == (1, 1) and grey[0, 0] == 100
