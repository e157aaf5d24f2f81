"""Camera motion between frames, so background seen in one frame can be used in another.

Each pair of consecutive frames gets a homography estimated on a small greyscale copy:
corners tracked with pyramidal Lucas–Kanade (checked forwards and backwards), objects'
pixels excluded (they move on their own), RANSAC to drop what still disagrees. A
homography is exact for a camera that pans, tilts, zooms or shakes on the spot and for
flat scenes; distant frames chain the steps. Steps that move no corner by more than a
quarter of a pixel are taken as no motion, so a locked-off shot stays perfectly still.

Chained steps drift (a fraction of a pixel per step), so a pair of distant frames is then
matched directly: points of one frame are tracked into the other starting from where the
chain puts them, and the homography is fitted to those direct matches.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from sam2_studio.effects.context import FrameContext

WORK_WIDTH = 480
_MIN_POINTS = 12
_STILL = 0.25  # px at the working size


def _scaling(width: int, height: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Full-size ↔ working-size pixel coordinates (pixel centres kept aligned)."""
    s = min(1.0, WORK_WIDTH / width)
    size = (max(1, round(width * s)), max(1, round(height * s)))
    sx, sy = size[0] / width, size[1] / height
    down = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
    return down, np.linalg.inv(down), size


class CameraMotion:
    """Homographies between any two frames of a clip, computed once per consecutive pair."""

    def __init__(
        self,
        clip: FrameContext,
        exclude: Callable[[int, np.ndarray, tuple[int, int]], np.ndarray] | None = None,
    ) -> None:
        """``exclude(i, warp, size)``: a float mask of the moving things in frame ``i``,
        seen through ``warp`` (3×3, full size → working size) at ``size``; they are not
        used to measure the camera's motion."""
        self.clip = clip
        self.exclude = exclude
        self._steps: dict[int, np.ndarray] = {}  # i -> H mapping frame i to frame i+1
        self._pairs: dict[tuple[int, int], np.ndarray] = {}  # (src, dst) -> refined H
        self._grey: dict[int, np.ndarray] = {}
        self._corners: dict[int, np.ndarray | None] = {}
        h, w = clip.frame(0).shape[:2]
        self._down, self._up, self._size = _scaling(w, h)

    @staticmethod
    def _remember(store: dict, key: int, value: object, limit: int = 128) -> None:
        if len(store) >= limit:
            store.pop(next(iter(store)))
        store[key] = value

    def _small(self, i: int) -> np.ndarray:
        g = self._grey.get(i)
        if g is None:
            g = cv2.cvtColor(
                cv2.resize(self.clip.frame(i), self._size, interpolation=cv2.INTER_AREA),
                cv2.COLOR_RGB2GRAY,
            )
            self._remember(self._grey, i, g)
        return g

    def _step(self, i: int) -> np.ndarray:
        """Working-size homography from frame ``i`` to frame ``i + 1``."""
        H = self._steps.get(i)
        if H is None:
            H = self._fit(i, i + 1, None)
            self._steps[i] = H
        return H

    def _features(self, i: int) -> np.ndarray | None:
        """Corners of frame ``i`` worth tracking: not on (or next to) a moving object."""
        if i not in self._corners:
            mask = None
            if self.exclude is not None:
                moving = self.exclude(i, self._down, self._size)
                mask = np.where(cv2.dilate(moving, np.ones((7, 7))) > 0.01, 0, 255).astype(np.uint8)
            pts = cv2.goodFeaturesToTrack(self._small(i), 300, 0.01, 6, mask=mask, blockSize=5)
            self._remember(self._corners, i, None if pts is None or len(pts) < _MIN_POINTS else pts)
        return self._corners[i]

    def _fit(self, a: int, b: int, guess: np.ndarray | None) -> np.ndarray:
        """Working-size homography from frame ``a`` to ``b`` (from ``guess`` if given)."""
        ga, gb = self._small(a), self._small(b)
        pts = self._features(a)
        if pts is None:
            return np.eye(3) if guess is None else guess
        flags, start = 0, None
        if guess is not None:
            flags, start = cv2.OPTFLOW_USE_INITIAL_FLOW, cv2.perspectiveTransform(pts, guess)
        lk = {
            "winSize": (21, 21) if guess is None else (15, 15),
            "maxLevel": 3 if guess is None else 1,
        }
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(ga, gb, pts, start, flags=flags, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(
            gb, ga, fwd, pts.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk
        )
        ok = (st1[:, 0] == 1) & (st2[:, 0] == 1)
        ok &= np.linalg.norm((back - pts).reshape(-1, 2), axis=1) < 0.7
        if ok.sum() < _MIN_POINTS:
            return np.eye(3) if guess is None else guess
        H, inliers = cv2.findHomography(pts[ok], fwd[ok], cv2.RANSAC, 1.0)
        if H is None or inliers.sum() < _MIN_POINTS:
            return np.eye(3) if guess is None else guess
        h, w = ga.shape
        corners = np.float32([[0, 0], [w, 0], [0, h], [w, h]]).reshape(-1, 1, 2)
        if np.abs(cv2.perspectiveTransform(corners, H) - corners).max() < _STILL:
            return np.eye(3)
        return H

    def homography(self, src: int, dst: int) -> np.ndarray:
        """3×3 matrix taking full-size pixel coordinates of frame ``src`` to frame ``dst``."""
        H = self._pairs.get((src, dst))
        if H is None:
            H = np.eye(3)
            if src < dst:
                for i in range(src, dst):
                    H = self._step(i) @ H
            else:
                for i in range(src - 1, dst - 1, -1):
                    H = np.linalg.inv(self._step(i)) @ H
            if abs(src - dst) > 1 and not np.array_equal(H, np.eye(3)):
                H = self._fit(src, dst, H)
            if len(self._pairs) > 4096:
                self._pairs.clear()
            self._pairs[(src, dst)] = H
        if np.array_equal(H, np.eye(3)):
            return H
        return self._up @ H @ self._down
